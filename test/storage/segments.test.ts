import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planLayout } from '../../src/codec/layout.js';
import { filesOfPiece, segmentsOf } from '../../src/storage/segments.js';
import { P, cases } from './fixtures.js';

describe('segmentsOf', () => {
  it('covers every range exactly once, in order, without empty files', () => {
    for (const { meta } of cases()) {
      for (let i = 0; i < meta.numPieces; i++) {
        const size = Math.min(P, meta.totalLength - i * P);
        for (const [begin, length] of [
          [0, size],
          [1, size - 1],
          [size >> 1, size - (size >> 1)],
        ] as const) {
          const segs = segmentsOf(meta, i, begin, length);
          let at = 0;
          for (const s of segs) {
            assert.equal(s.offset, at);
            assert.ok(s.length > 0);
            const f = meta.files[s.file]!;
            assert.equal(f.offset + s.position, i * P + begin + at, 'stream position');
            assert.ok(s.position + s.length <= f.length);
            assert.equal(s.pad, f.pad);
            at += s.length;
          }
          assert.equal(at, length);
        }
      }
    }
  });

  it('a v1 piece spans files; a hybrid piece holds one file and its pad', () => {
    const files = [
      { path: ['a'], length: 10 },
      { path: ['e'], length: 0 },
      { path: ['b'], length: P },
    ];
    const v1 = planLayout(files, P, 'v1');
    assert.deepEqual(
      segmentsOf(v1, 0, 0, P).map((s) => [s.file, s.position, s.length, s.offset, s.pad]),
      [
        [0, 0, 10, 0, false],
        [2, 0, P - 10, 10, false],
      ],
    );
    assert.deepEqual(filesOfPiece(v1, 1), [2]);
    const hybrid = planLayout(files, P, 'hybrid');
    assert.deepEqual(
      segmentsOf(hybrid, 0, 0, P).map((s) => [s.file, s.length, s.pad]),
      [
        [0, 10, false],
        [1, P - 10, true],
      ],
    );
    assert.deepEqual(filesOfPiece(hybrid, 0), [0]);
  });
});
