/**
 * BEP 52 hash requests: fetching a file's piece layer from peers (a v2 torrent from a magnet link
 * has none) and answering peers that ask for ours. Pure tree arithmetic; torrent.ts sends and
 * receives the messages.
 *
 * We ask for and serve the piece layer only (base layer = log2(piece length / 16 KiB)). The layer
 * is padded to a power of two W with the root of an all-zero piece subtree. A request covers
 * `length` (a power of two, at most 512) consecutive entries starting at a multiple of `length`.
 * `proof layers` is read as libtorrent 2.0 (the reference implementation) reads it: the answer
 * carries max(0, proof layers - log2(length) + 1) uncles, bottom up (the sibling of the range's
 * subtree root, then of its parent, and so on), and proof layers must be below log2(W). Asking for
 * log2(W) - 1 proves the range up to the pieces root.
 */
import { type FileEntry } from '../codec/layout.js';
import { BLOCK_SIZE, HASH_SIZE, hashPair, log2Exact, nextPowerOfTwo, rootOfLayer, zeroSubtreeRoot } from '../codec/merkle.js';
import { type Metainfo, hex } from '../codec/metainfo.js';

/** Most hashes in one request (libtorrent refuses more). */
export const MAX_HASHES_PER_REQUEST = 512;

export interface HashRange {
  piecesRoot: Uint8Array;
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

function pieceLayerIndex(pieceLength: number): number {
  return log2Exact(pieceLength / BLOCK_SIZE);
}

function filePieceCount(t: Metainfo, f: FileEntry): number {
  return Math.ceil(f.length / t.pieceLength);
}

/** The requests that fetch the whole piece layer of a file longer than one piece. */
export function layerRequests(t: Metainfo, f: FileEntry): HashRange[] {
  const n = filePieceCount(t, f);
  const width = nextPowerOfTwo(n);
  const length = Math.max(2, Math.min(MAX_HASHES_PER_REQUEST, width));
  const levels = log2Exact(width);
  const proofLayers = Math.max(0, levels - 1);
  const out: HashRange[] = [];
  for (let index = 0; index < n; index += length) {
    out.push({ piecesRoot: f.piecesRoot!, baseLayer: pieceLayerIndex(t.pieceLength), index, length, proofLayers });
  }
  return out;
}

/**
 * Checks an answer against the pieces root. Returns the layer entries it proves (only those that
 * belong to real pieces of the file), or null if the proof fails.
 */
export function verifyLayerChunk(t: Metainfo, f: FileEntry, r: HashRange, hashes: Uint8Array): Buffer | null {
  const n = filePieceCount(t, f);
  const width = nextPowerOfTwo(n);
  if (r.baseLayer !== pieceLayerIndex(t.pieceLength) || r.length < 1 || (r.length & (r.length - 1)) !== 0 || r.index % r.length !== 0) return null;
  if (r.length > width || r.index >= n) return null;
  const h = log2Exact(r.length);
  const levels = log2Exact(width);
  if (r.proofLayers >= Math.max(1, levels)) return null;
  const uncles = Math.max(0, r.proofLayers - h + 1);
  if (h + uncles !== levels || hashes.length !== (r.length + uncles) * HASH_SIZE) return null;
  const range = Buffer.from(hashes.buffer, hashes.byteOffset, r.length * HASH_SIZE);
  let node = rootOfLayer(range, r.length, 0);
  let pos = r.index / r.length;
  for (let j = 0; j < uncles; j++) {
    const uncle = hashes.subarray((r.length + j) * HASH_SIZE, (r.length + j + 1) * HASH_SIZE);
    node = pos % 2 === 0 ? hashPair(node, uncle) : hashPair(uncle, node);
    pos >>= 1;
  }
  if (!node.equals(f.piecesRoot!)) return null;
  const real = Math.min(r.length, n - r.index);
  return Buffer.from(range.subarray(0, real * HASH_SIZE));
}

/** Our answer to a hash request, or null to reject it (a layer we lack, or a malformed range). */
export function answerHashRequest(t: Metainfo, r: HashRange): Buffer | null {
  const f = t.files.find((x) => !x.pad && x.piecesRoot && Buffer.from(r.piecesRoot).equals(x.piecesRoot) && x.length > t.pieceLength);
  if (!f) return null;
  const layer = t.pieceLayers.get(hex(f.piecesRoot!));
  if (!layer) return null;
  const n = filePieceCount(t, f);
  const width = nextPowerOfTwo(n);
  const levels = log2Exact(width);
  if (r.baseLayer !== pieceLayerIndex(t.pieceLength) || r.length < 1 || r.length > MAX_HASHES_PER_REQUEST || (r.length & (r.length - 1)) !== 0) return null;
  if (r.index % r.length !== 0 || r.index >= width || r.length > width) return null;
  const h = log2Exact(r.length);
  if (r.proofLayers >= Math.max(1, levels)) return null;
  const uncles = Math.min(levels - h, Math.max(0, r.proofLayers - h + 1));
  const padNode = zeroSubtreeRoot(pieceLayerIndex(t.pieceLength));
  // Build the padded tree level by level (fine for layers of up to millions of entries).
  let level = Buffer.alloc(width * HASH_SIZE);
  layer.copy(level, 0);
  for (let i = n; i < width; i++) padNode.copy(level, i * HASH_SIZE);
  const out: Buffer[] = [Buffer.from(level.subarray(r.index * HASH_SIZE, (r.index + r.length) * HASH_SIZE))];
  let w = width;
  for (let lv = 0; lv < h + uncles && w > 1; lv++) {
    if (lv >= h) {
      const sibling = (r.index >> lv) ^ 1;
      out.push(Buffer.from(level.subarray(sibling * HASH_SIZE, (sibling + 1) * HASH_SIZE)));
    }
    const next = Buffer.alloc((w / 2) * HASH_SIZE);
    for (let i = 0; i < w / 2; i++) hashPair(level.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE), level.subarray((2 * i + 1) * HASH_SIZE, (2 * i + 2) * HASH_SIZE)).copy(next, i * HASH_SIZE);
    level = next;
    w /= 2;
  }
  return Buffer.concat(out);
}
