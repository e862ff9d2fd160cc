import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planLayout } from '../../src/codec/layout.js';
import { HASH_SIZE, piecesRootFromLayer } from '../../src/codec/merkle.js';
import { type Metainfo, hex } from '../../src/codec/metainfo.js';
import { answerHashRequest, layerRequests, verifyLayerChunk } from '../../src/engine/hash-exchange.js';

/** A v2 metainfo of one file of `pieces` pieces whose piece layer is random but consistent. */
function oneFile(pieces: number, pieceLength: number): Metainfo {
  const length = (pieces - 1) * pieceLength + 1;
  const layout = planLayout([{ path: ['f'], length }], pieceLength, 'v2');
  const layer = randomBytes(pieces * HASH_SIZE);
  const root = piecesRootFromLayer(layer, pieceLength);
  layout.files[0]!.piecesRoot = root;
  return {
    ...layout,
    version: 'v2', name: 'f', singleFile: true, pieces: null, pieceLayers: new Map([[hex(root), layer]]),
    infoHashV1: null, infoHashV2: Buffer.alloc(32), private: false, trackers: [], webSeeds: [], comment: null, createdBy: null, creationDate: null,
    infoBytes: Buffer.alloc(0),
  };
}

describe('BEP 52 hash exchange', () => {
  it('our answers prove out against the pieces root, for any layer size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3000 }), fc.constantFrom(16384, 65536), (pieces, pl) => {
        const t = oneFile(pieces, pl);
        const f = t.files[0]!;
        const layer = t.pieceLayers.get(hex(f.piecesRoot!))!;
        const got = Buffer.alloc(layer.length);
        for (const r of layerRequests(t, f)) {
          assert.ok(r.length <= 512 && r.index % r.length === 0);
          const answer = answerHashRequest(t, r);
          assert.ok(answer, 'answered');
          const proven = verifyLayerChunk(t, f, r, answer);
          assert.ok(proven, 'proven');
          proven.copy(got, r.index * HASH_SIZE);
        }
        assert.ok(got.equals(layer));
      }),
      { numRuns: 60 },
    );
  });

  it('rejects a tampered hash or uncle', () => {
    const t = oneFile(1500, 16384);
    const f = t.files[0]!;
    for (const r of layerRequests(t, f)) {
      const answer = answerHashRequest(t, r)!;
      for (const at of [0, answer.length - 1, Math.floor(answer.length / 2)]) {
        const bad = Buffer.from(answer);
        bad[at]! ^= 1;
        assert.equal(verifyLayerChunk(t, f, r, bad), null);
      }
      assert.equal(verifyLayerChunk(t, f, r, answer.subarray(0, answer.length - HASH_SIZE)), null, 'missing uncle');
    }
  });

  it('uses libtorrent 2.0 proof-layer counting (uncles = proof layers - log2(length) + 1)', () => {
    const t = oneFile(1500, 16384); // padded width 2048: 11 levels
    const [first] = layerRequests(t, t.files[0]!);
    assert.equal(first!.length, 512);
    assert.equal(first!.proofLayers, 10);
    assert.equal(answerHashRequest(t, first!)!.length, (512 + 2) * HASH_SIZE);
    assert.equal(answerHashRequest(t, { ...first!, proofLayers: 11 }), null, 'proof layers must stay below log2(width)');
  });

});
