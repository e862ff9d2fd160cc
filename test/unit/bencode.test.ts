import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BencodeError, bdecode, bdecodeWithSpans, bencode } from '../../src/codec/bencode.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('bencode', () => {
  it('decodes the four types', () => {
    const v = bdecode(b('d3:agei42e4:listl1:ai-7ee4:name4:seede'));
    assert.ok(v instanceof Map);
    assert.equal(v.get('age'), 42);
    assert.deepEqual(v.get('list'), [b('a'), -7]);
    assert.deepEqual(v.get('name'), b('seed'));
  });

  it('encodes canonically with sorted keys', () => {
    const m = new Map<string, unknown>([
      ['z', 1],
      ['a', 'x'],
    ]);
    assert.equal(bencode(m as Map<string, string | number>).toString('latin1'), 'd1:a1:x1:zi1ee');
  });

  it('keeps large integers exact as bigint', () => {
    assert.equal(bdecode(b('i9007199254740993e')), 9007199254740993n);
    assert.equal(bdecode(b('i-9007199254740991e')), -9007199254740991);
  });

  for (const [input, code, offset] of [
    ['i01e', 'BENCODE_NOT_CANONICAL', 1],
    ['i-0e', 'BENCODE_NOT_CANONICAL', 2],
    ['ie', 'BENCODE_SYNTAX', 1],
    ['03:abc', 'BENCODE_NOT_CANONICAL', 0],
    ['d1:bi1e1:ai2ee', 'BENCODE_NOT_CANONICAL', 7],
    ['d1:ai1e1:ai2ee', 'BENCODE_NOT_CANONICAL', 7],
    ['5:abc', 'BENCODE_TRUNCATED', 0],
    ['l', 'BENCODE_TRUNCATED', 1],
    ['i1ei2e', 'BENCODE_TRAILING', 3],
    ['di1ei2ee', 'BENCODE_SYNTAX', 1],
    ['x', 'BENCODE_SYNTAX', 0],
  ] as const) {
    it(`rejects ${JSON.stringify(input)} with ${code} at byte ${offset}`, () => {
      assert.throws(
        () => bdecode(b(input)),
        (e: unknown) => e instanceof BencodeError && e.code === code && e.offset === offset && e.message.includes(`at byte ${offset}`),
      );
    });
  }

  it('with unsortedKeys, takes keys in any order but never a repeated one', () => {
    assert.deepEqual(bdecode(b('d1:bi1e1:ai2ee'), { unsortedKeys: true }), new Map([['b', 1], ['a', 2]]));
    assert.deepEqual(bdecode(b('d1:zd1:yi1e1:xi2eee'), { unsortedKeys: true }), new Map([['z', new Map([['y', 1], ['x', 2]])]]));
    for (const dup of ['d1:ai1e1:ai2ee', 'd1:bi1e1:ai2e1:bi3ee']) {
      assert.throws(() => bdecode(b(dup), { unsortedKeys: true }), (e: unknown) => e instanceof BencodeError && e.code === 'BENCODE_NOT_CANONICAL' && /duplicate/.test(e.message), dup);
    }
  });

  it('reports the exact span of top-level values', () => {
    const input = b('d4:infod1:xi1ee3:zzz0:e');
    const { topLevelSpans } = bdecodeWithSpans(input);
    const [s, e] = topLevelSpans.get('info')!;
    assert.equal(input.subarray(s, e).toString('latin1'), 'd1:xi1ee');
  });
});
