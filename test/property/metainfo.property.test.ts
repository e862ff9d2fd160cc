/**
 * Property tests for the metainfo codec: random file sets are laid out, hashed in memory, built
 * into v1, v2 and hybrid torrents, parsed back and checked field by field.
 *
 * The v2 hashes come from a deliberately naive reference merkle tree written here from BEP 52,
 * which doubles as an independent check of merkle.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bdecode, bencode } from '../../src/codec/bencode.js';
import { type FileEntry, type Layout, comparePaths, planLayout } from '../../src/codec/layout.js';
import { BLOCK_SIZE, piecesRootFromLayer, piecesRootOf } from '../../src/codec/merkle.js';
import { buildTorrent } from '../../src/codec/metainfo-build.js';
import { parseTorrent } from '../../src/codec/metainfo.js';

const KiB = 1024;

// ---------------------------------------------------------------------------------------------
// Reference implementation (BEP 52), independent of merkle.ts

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const ZERO_LEAF = Buffer.alloc(32);

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** SHA-256 of each 16 KiB block; the last block may be short. */
function refLeaves(data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += BLOCK_SIZE) out.push(sha256(data.subarray(i, i + BLOCK_SIZE)));
  return out;
}

/** Root of a complete binary tree over `leaves` padded with zero leaves to `width`. */
function refRoot(leaves: Buffer[], width: number): Buffer {
  assert.ok(width >= leaves.length && (width & (width - 1)) === 0);
  let layer = [...leaves];
  while (layer.length < width) layer.push(ZERO_LEAF);
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1]!));
    layer = next;
  }
  return layer[0]!;
}

/** BEP 52 pieces root of a file, built leaf by leaf. */
function refPiecesRoot(data: Uint8Array, pieceLength: number): Buffer | null {
  if (data.length === 0) return null;
  const leaves = refLeaves(data);
  const width = data.length <= pieceLength ? nextPow2(leaves.length) : nextPow2(Math.ceil(data.length / pieceLength)) * (pieceLength / BLOCK_SIZE);
  return refRoot(leaves, width);
}

/** BEP 52 piece layer of a file longer than one piece: the root of each piece's full subtree. */
function refPieceLayer(data: Uint8Array, pieceLength: number): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < data.length; p += pieceLength) out.push(refRoot(refLeaves(data.subarray(p, p + pieceLength)), pieceLength / BLOCK_SIZE));
  return Buffer.concat(out);
}

/** Deterministic pseudo-random bytes (xorshift32), so that big files need no big arbitraries. */
function fill(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

// Safe on every platform: no separators, controls, reserved device names or trailing dots.
const component = fc
  .string({ unit: fc.constantFrom(...'abcxyz019-_. '.split(''), 'é', '日', '🙂'), minLength: 1, maxLength: 10 })
  .filter((c) => c !== '.' && c !== '..' && !c.endsWith('.') && !c.endsWith(' ') && !/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(c));

const fileLength = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3000 }) },
  { weight: 2, arbitrary: fc.constantFrom(16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 32 * KiB, 64 * KiB, 64 * KiB + 1, 128 * KiB, 200 * KiB) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 200 * KiB }) },
);

const pieceLength = fc.constantFrom(16 * KiB, 32 * KiB, 64 * KiB);

interface GenFile {
  path: string[];
  length: number;
  seed: number;
}

/** No path may be a folder of another (a/b and a/b/c cannot both be files). */
function prefixFree(paths: string[][]): boolean {
  const keys = new Set(paths.map((p) => p.join('/')));
  return paths.every((p) => p.slice(0, -1).every((_, i) => !keys.has(p.slice(0, i + 1).join('/'))));
}

const fileSet = fc
  .record({
    name: component,
    single: fc.boolean(),
    paths: fc.uniqueArray(fc.array(component, { minLength: 1, maxLength: 3 }), { selector: (p) => p.join('/'), minLength: 2, maxLength: 5 }),
    lengths: fc.array(fileLength, { minLength: 5, maxLength: 5 }),
    seeds: fc.array(fc.integer(), { minLength: 5, maxLength: 5 }),
  })
  .filter((g) => prefixFree(g.paths))
  .map(({ name, single, paths, lengths, seeds }) => {
    let files: GenFile[] = single
      ? [{ path: [name], length: lengths[0]!, seed: seeds[0]! }]
      : paths.map((path, i) => ({ path, length: lengths[i]!, seed: seeds[i]! }));
    // At least one non-empty file.
    if (files.every((f) => f.length === 0)) files = files.map((f, i) => (i === 0 ? { ...f, length: 1 + (f.seed >>> 16) } : f));
    files.sort((a, b) => comparePaths(a.path, b.path));
    return { name, single, files };
  });

const extras = fc.record({
  trackers: fc.oneof(
    fc.constant([] as string[][]),
    fc.array(fc.array(fc.integer({ min: 0, max: 99 }).map((n) => `udp://t${n}.example:6969/announce`), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 2 }),
  ),
  webSeeds: fc.array(fc.integer({ min: 0, max: 99 }).map((n) => `https://ws${n}.example/data/`), { maxLength: 2 }),
  private: fc.boolean(),
  comment: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: undefined }),
  createdBy: fc.option(fc.constant('seedbank test'), { nil: undefined }),
  creationDate: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
});

// ---------------------------------------------------------------------------------------------

function realFiles(files: readonly FileEntry[]) {
  return files.filter((f) => !f.pad).map((f) => ({ path: [...f.path], length: f.length, piecesRoot: f.piecesRoot ? f.piecesRoot.toString('hex') : null }));
}

describe('metainfo build/parse properties', () => {
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    it(`${version}: parseTorrent(buildTorrent(x)) describes x exactly`, () => {
      fc.assert(
        fc.property(fileSet, pieceLength, extras, ({ name, single, files }, pl, extra) => {
          const data = new Map(files.map((f) => [f.path.join('/'), fill(f.length, f.seed)]));
          const layout: Layout = planLayout(
            files.map((f) => ({ path: f.path, length: f.length })),
            pl,
            version,
          );

          // Pieces roots and piece layers, from merkle.ts, checked against the reference.
          const pieceLayers = new Map<string, Buffer>();
          for (const f of layout.files) {
            if (f.pad || version === 'v1') continue;
            const bytes = data.get(f.path.join('/'))!;
            f.piecesRoot = piecesRootOf(bytes, pl);
            assert.deepEqual(f.piecesRoot, refPiecesRoot(bytes, pl));
            if (f.length > pl) {
              const layer = refPieceLayer(bytes, pl);
              assert.deepEqual(piecesRootFromLayer(layer, pl), f.piecesRoot);
              pieceLayers.set(f.piecesRoot!.toString('hex'), layer);
            }
          }

          // v1 piece hashes over the stream, pad files as zeros.
          const stream = Buffer.concat(layout.files.map((f) => (f.pad ? Buffer.alloc(f.length) : data.get(f.path.join('/'))!)));
          assert.equal(stream.length, layout.totalLength);
          let pieces: Buffer | null = null;
          if (version !== 'v2') {
            const hashes: Buffer[] = [];
            for (let p = 0; p < stream.length; p += pl) hashes.push(sha1(stream.subarray(p, p + pl)));
            pieces = Buffer.concat(hashes);
          }

          const input = {
            version,
            name,
            layout,
            singleFile: single,
            pieces,
            pieceLayers,
            trackers: extra.trackers,
            webSeeds: extra.webSeeds,
            private: extra.private,
            comment: extra.comment,
            createdBy: extra.createdBy,
            creationDate: extra.creationDate,
          };
          const torrent = buildTorrent(input);
          const t = parseTorrent(torrent);

          assert.equal(t.version, version);
          assert.equal(t.name, name);
          assert.equal(t.pieceLength, pl);
          assert.equal(t.singleFile, single);
          assert.equal(t.numPieces, layout.numPieces);
          assert.deepEqual(realFiles(t.files), realFiles(layout.files));
          assert.deepEqual(
            t.files.filter((f) => !f.pad).map((f) => f.offset),
            layout.files.filter((f) => !f.pad).map((f) => f.offset),
          );

          // Pad files: none in v1; in v2 and hybrid every non-empty real file is piece-aligned.
          const pads = t.files.filter((f) => f.pad);
          if (version === 'v1') assert.equal(pads.length, 0);
          else {
            for (const f of t.files) if (!f.pad && f.length > 0) assert.equal(f.offset % pl, 0, `${f.path.join('/')} at ${f.offset}`);
            for (const p of pads) assert.ok(p.length > 0 && p.length < pl);
            if (files.filter((f) => f.length % pl !== 0).length > 1) assert.ok(pads.length > 0);
          }
          // The entries tile the stream.
          let offset = 0;
          for (const f of t.files) {
            assert.equal(f.offset, offset);
            offset += f.length;
          }
          assert.equal(offset, t.totalLength);

          // Hashes.
          assert.deepEqual(t.infoHashV1, version === 'v2' ? null : sha1(t.infoBytes));
          assert.deepEqual(t.infoHashV2, version === 'v1' ? null : sha256(t.infoBytes));
          assert.deepEqual(t.pieces, pieces);
          assert.deepEqual(
            new Map([...t.pieceLayers].map(([k, v]) => [k, Buffer.from(v)])),
            pieceLayers,
          );
          assert.ok(torrent.includes(t.infoBytes));

          // Outer fields.
          assert.deepEqual(t.trackers, extra.trackers);
          assert.deepEqual(t.webSeeds, extra.webSeeds);
          assert.equal(t.private, extra.private);
          assert.equal(t.comment, extra.comment ?? null);
          assert.equal(t.createdBy, extra.createdBy ?? null);
          assert.equal(t.creationDate, extra.creationDate ?? null);

          // Re-encoding: the info bytes are canonical, and building from the parsed torrent gives
          // back the same file byte for byte.
          assert.deepEqual(bencode(bdecode(t.infoBytes)), Buffer.from(t.infoBytes));
          assert.deepEqual(buildTorrent({ ...input, layout: t, singleFile: t.singleFile, pieces: t.pieces, pieceLayers: t.pieceLayers }), torrent);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe('merkle reference properties', () => {
  it('piecesRootOf equals the naive BEP 52 tree', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 300 * KiB }), fc.constantFrom(1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 64 * KiB, 128 * KiB, 256 * KiB, 300 * KiB)),
        fc.constantFrom(16 * KiB, 32 * KiB, 64 * KiB, 128 * KiB, 256 * KiB),
        fc.integer(),
        (length, pl, seed) => {
          const data = fill(length, seed);
          const root = piecesRootOf(data, pl);
          assert.deepEqual(root, refPiecesRoot(data, pl));
          if (length > pl) assert.deepEqual(piecesRootFromLayer(refPieceLayer(data, pl), pl), root);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('does not pad a file whose size is an exact power of two of blocks', () => {
    const data = fill(64 * KiB, 7);
    const [l0, l1, l2, l3] = refLeaves(data);
    const exact = sha256(sha256(l0!, l1!), sha256(l2!, l3!));
    // Four pieces of one block each, and one piece of four blocks: the same four-leaf tree.
    assert.deepEqual(piecesRootOf(data, 16 * KiB), exact);
    assert.deepEqual(piecesRootOf(data, 64 * KiB), exact);
    // A bigger piece length does not pad a one-piece file to the piece's width.
    assert.deepEqual(piecesRootOf(data, 256 * KiB), exact);
    // One block: the root is the leaf itself.
    assert.deepEqual(piecesRootOf(data.subarray(0, BLOCK_SIZE), 64 * KiB), l0);
  });

  it('pads a short file to a power of two of leaves, a long one to whole pieces', () => {
    const data = fill(48 * KiB, 9);
    const [l0, l1, l2] = refLeaves(data);
    assert.deepEqual(piecesRootOf(data, 64 * KiB), sha256(sha256(l0!, l1!), sha256(l2!, ZERO_LEAF)));
    // 48 KiB in 32 KiB pieces: two pieces of two leaves, the second leaf of piece two is zero.
    assert.deepEqual(piecesRootOf(data, 32 * KiB), sha256(sha256(l0!, l1!), sha256(l2!, ZERO_LEAF)));
    // 80 KiB in 32 KiB pieces: three pieces, padded to four pieces of two leaves (8 leaves).
    const five = refLeaves(fill(80 * KiB, 11));
    const zz = sha256(ZERO_LEAF, ZERO_LEAF);
    const expected = sha256(sha256(sha256(five[0]!, five[1]!), sha256(five[2]!, five[3]!)), sha256(sha256(five[4]!, ZERO_LEAF), zz));
    assert.deepEqual(piecesRootOf(fill(80 * KiB, 11), 32 * KiB), expected);
  });

  it('has no root for an empty file', () => {
    assert.equal(piecesRootOf(Buffer.alloc(0), 16 * KiB), null);
  });
});
