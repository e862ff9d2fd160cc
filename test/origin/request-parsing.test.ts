/** The origin's pure request parsers: the `Range` header and the URL path under the root. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseRange } from '../../src/origin/range.js';
import { isInside, parseTarget } from '../../src/origin/url-path.js';

describe('parseRange', () => {
  const size = 1000;
  const cases: Array<[string | undefined, ReturnType<typeof parseRange>]> = [
    [undefined, { kind: 'whole' }],
    ['bytes=0-0', { kind: 'partial', start: 0, end: 0 }],
    ['bytes=10-19', { kind: 'partial', start: 10, end: 19 }],
    ['bytes=990-', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=10-5000', { kind: 'partial', start: 10, end: 999 }],
    ['bytes=-5', { kind: 'partial', start: 995, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['Bytes = 1-2', { kind: 'partial', start: 1, end: 2 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-2000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999-', { kind: 'unsatisfiable' }],
    // Ignored, so the whole file: several ranges, another unit, nonsense, reversed.
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['items=0-1', { kind: 'whole' }],
    ['bytes=', { kind: 'whole' }],
    ['bytes=-', { kind: 'whole' }],
    ['bytes=a-b', { kind: 'whole' }],
    ['bytes=5-3', { kind: 'whole' }],
    ['bytes=0x10-', { kind: 'whole' }],
    ['bytes', { kind: 'whole' }],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)} -> ${want.kind}`, () => assert.deepEqual(parseRange(header, size), want));
  }

  it('an empty file satisfies no range', () => {
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-1', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange(undefined, 0), { kind: 'whole' });
  });
});

describe('parseTarget', () => {
  it('decodes each segment and keeps the query apart', () => {
    const t = parseTarget('/data/a%20b.bin?x=1&sig=abc')!;
    assert.equal(t.rawPath, '/data/a%20b.bin');
    assert.deepEqual(t.segments, ['data', 'a b.bin']);
    assert.equal(t.urlPath, '/data/a b.bin');
    assert.equal(t.query.get('sig'), 'abc');
    assert.deepEqual(parseTarget('/')!.segments, []);
  });

  for (const bad of [
    '/../x',
    '/a/../../x',
    '/%2e%2e/x',
    '/%2E%2E/x',
    '/a/%2e%2e%2f%2e%2e%2fx',
    '/..%2fx',
    '/a%2fb',
    '/a%5cb',
    '/a\\b',
    '/./x',
    '//x',
    '/a/',
    '/a%00b',
    '/%zz',
    '/%c3',
    'x',
    'http://example.com/x',
    '*',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseTarget(bad), null));
  }
});

describe('isInside', () => {
  it('accepts the root and what is below it, nothing else', () => {
    const root = path.resolve('/srv/root');
    assert.ok(isInside(root, root));
    assert.ok(isInside(root, path.join(root, 'a', 'b')));
    assert.ok(isInside(root, path.join(root, '..data')));
    assert.ok(!isInside(root, path.resolve('/srv')));
    assert.ok(!isInside(root, path.resolve('/srv/root2/x')));
    assert.ok(!isInside(root, path.resolve('/etc/passwd')));
  });
});
