/**
 * Property tests for the bencode codec: round trips, canonical re-encoding, error types on
 * arbitrary bytes, truncation, and the decoder's resource limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BValue, BencodeError, bdecode, bencode } from '../../src/codec/bencode.js';

/** Any Unicode scalar value (no lone surrogates). Cheaper to set up than fast-check's 'binary' unit. */
const codePoint = fc
  .oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }))
  .map((c) => String.fromCodePoint(c));

const b = (s: string) => Buffer.from(s, 'latin1');

const isBencodeError = (code?: string) => (e: unknown) => e instanceof BencodeError && (code === undefined || e.code === code);

// Integers the decoder returns as bigint: outside the safe range, at most 64 digits.
const BIG = 10n ** 64n - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A dictionary key: any binary (latin1) string, i.e. any byte sequence. */
const binaryKey = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 12 });

const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ value: BValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.uint8Array({ maxLength: 40 }),
    fc.maxSafeInteger(),
    fc.oneof(fc.bigInt({ min: SAFE + 1n, max: BIG }), fc.bigInt({ min: -BIG, max: -SAFE - 1n })),
    fc.array(tie('value'), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(binaryKey, tie('value')), { selector: ([k]) => k, maxLength: 5 })
      .map((entries) => new Map(entries)),
  ),
})).value;

/** Makes generated and decoded values comparable: byte strings as Buffers, +0 for 0, sorted maps. */
function norm(v: BValue): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length);
  if (typeof v === 'number') return v === 0 ? 0 : v;
  if (typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map(norm);
  return [...v.entries()].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0)).map(([k, x]) => [k, norm(x)]);
}

/** Asserts that every dictionary in a decoded value lists its keys in byte order. */
function assertSortedMaps(v: BValue): void {
  if (Array.isArray(v)) v.forEach(assertSortedMaps);
  else if (v instanceof Map) {
    const keys = [...v.keys()];
    for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(b(keys[i - 1]!), b(keys[i]!)) < 0);
    for (const x of v.values()) assertSortedMaps(x);
  }
}

// Bytes drawn from bencode's own alphabet, so that a fair share of them decode.
const bencodeish = fc
  .string({ unit: fc.constantFrom(...'ildee0123456789:-'.split('')), maxLength: 40 })
  .map((s) => b(s));

describe('bencode properties', () => {
  it('decode(encode(x)) equals x', () => {
    fc.assert(
      fc.property(bvalue, (x) => {
        const decoded = bdecode(bencode(x));
        assert.deepEqual(norm(decoded), norm(x));
        assertSortedMaps(decoded);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes bigints outside the safe range and numbers inside it', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -BIG, max: BIG }), (n) => {
        const v = bdecode(bencode(n));
        if (n >= -SAFE && n <= SAFE) assert.equal(v, Number(n));
        else assert.equal(v, n);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes a JS string as its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 30 }), (s) => {
        assert.deepEqual(bencode(s), bencode(Buffer.from(s, 'utf8')));
        assert.deepEqual(bdecode(bencode(s)), Buffer.from(s, 'utf8'));
      }),
      { numRuns: 200 },
    );
  });

  it('encode(decode(bytes)) is bytes for every accepted input (strict means canonical)', () => {
    let accepted = 0;
    const check = (bytes: Uint8Array) => {
      let v: BValue;
      try {
        v = bdecode(bytes);
      } catch (e) {
        assert.ok(e instanceof BencodeError, `unexpected ${String(e)}`);
        return;
      }
      accepted++;
      assert.deepEqual(bencode(v), Buffer.from(bytes));
    };
    fc.assert(fc.property(bencodeish, check), { numRuns: 300 });
    // Mutated canonical encodings: a single changed byte often stays decodable.
    fc.assert(
      fc.property(bvalue, fc.nat(), fc.integer({ min: 0, max: 255 }), (x, at, byte) => {
        const enc = Buffer.from(bencode(x));
        enc[at % enc.length] = byte;
        check(enc);
      }),
      { numRuns: 300 },
    );
    assert.ok(accepted > 0, 'no generated input was accepted; the property tested nothing');
  });

  it('arbitrary bytes either decode or throw BencodeError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), bencodeish), (bytes) => {
        try {
          bdecode(bytes);
        } catch (e) {
          assert.ok(e instanceof BencodeError, `unexpected ${String(e)}`);
          assert.ok(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} outside the input`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every proper prefix of an encoding throws BENCODE_TRUNCATED', () => {
    fc.assert(
      fc.property(bvalue, (x) => {
        const enc = bencode(x);
        for (let cut = 0; cut < enc.length; cut++) {
          assert.throws(() => bdecode(enc.subarray(0, cut)), isBencodeError('BENCODE_TRUNCATED'), `cut at ${cut} of ${enc.length}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('any trailing byte after a value throws BENCODE_TRAILING', () => {
    fc.assert(
      fc.property(bvalue, fc.uint8Array({ minLength: 1, maxLength: 4 }), (x, tail) => {
        const enc = bencode(x);
        assert.throws(() => bdecode(Buffer.concat([enc, tail])), isBencodeError('BENCODE_TRAILING'));
      }),
      { numRuns: 150 },
    );
  });
});

describe('bencode limits', () => {
  it('rejects deep nesting with BENCODE_LIMIT, not a stack overflow', () => {
    assert.throws(() => bdecode(b('l'.repeat(100_000))), isBencodeError('BENCODE_LIMIT'));
    assert.throws(() => bdecode(b('d1:a'.repeat(100_000))), isBencodeError('BENCODE_LIMIT'));
    assert.throws(() => bdecode(b(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`)), isBencodeError('BENCODE_LIMIT'));
  });

  it('accepts nesting up to maxDepth and no deeper', () => {
    const nested = (n: number) => b(`${'l'.repeat(n)}${'e'.repeat(n)}`);
    assert.doesNotThrow(() => bdecode(nested(256)));
    assert.throws(() => bdecode(nested(257)), isBencodeError('BENCODE_LIMIT'));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (depth, maxDepth) => {
        const input = nested(depth);
        if (depth <= maxDepth) assert.doesNotThrow(() => bdecode(input, { maxDepth }));
        else assert.throws(() => bdecode(input, { maxDepth }), isBencodeError('BENCODE_LIMIT'));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses to encode a value nested deeper than the decoder accepts', () => {
    let v: BValue = [];
    for (let i = 0; i < 1000; i++) v = [v];
    assert.throws(() => bencode(v), isBencodeError('BENCODE_LIMIT'));
  });

  it('rejects a huge declared string length without allocating', () => {
    assert.throws(() => bdecode(b('99999999999:')), isBencodeError('BENCODE_LIMIT'));
    assert.throws(() => bdecode(b(`${'9'.repeat(400)}:`)), isBencodeError('BENCODE_LIMIT'));
    assert.throws(() => bdecode(b('l99999999999:abce')), isBencodeError('BENCODE_LIMIT'));
    // Within the limit but past the end of the input: truncated, still a BencodeError.
    assert.throws(() => bdecode(b('1000000:abc')), isBencodeError('BENCODE_TRUNCATED'));
  });

  it('enforces maxStringLength', () => {
    assert.deepEqual(bdecode(b('3:abc'), { maxStringLength: 3 }), b('abc'));
    assert.throws(() => bdecode(b('4:abcd'), { maxStringLength: 3 }), isBencodeError('BENCODE_LIMIT'));
  });

  it('enforces maxBytes', () => {
    assert.deepEqual(bdecode(b('5:abcde'), { maxBytes: 7 }), b('abcde'));
    assert.throws(() => bdecode(b('5:abcde'), { maxBytes: 6 }), isBencodeError('BENCODE_LIMIT'));
  });

  it('enforces maxTokens', () => {
    // A list of n integers is n + 1 values.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 200 }), (n, maxTokens) => {
        const input = b(`l${'i7e'.repeat(n)}e`);
        if (n + 1 <= maxTokens) assert.equal((bdecode(input, { maxTokens }) as BValue[]).length, n);
        else assert.throws(() => bdecode(input, { maxTokens }), isBencodeError('BENCODE_LIMIT'));
      }),
      { numRuns: 200 },
    );
    assert.throws(() => bdecode(b(`l${'0:'.repeat(1000)}e`), { maxTokens: 1000 }), isBencodeError('BENCODE_LIMIT'));
  });

  it('caps integers at 64 digits', () => {
    assert.equal(bdecode(b(`i${'9'.repeat(64)}e`)), BIG);
    assert.equal(bdecode(b(`i-${'9'.repeat(64)}e`)), -BIG);
    assert.throws(() => bdecode(b(`i${'9'.repeat(65)}e`)), isBencodeError('BENCODE_LIMIT'));
    assert.throws(() => bdecode(b(`i${'1'.repeat(100_000)}e`)), isBencodeError('BENCODE_LIMIT'));
  });
});
