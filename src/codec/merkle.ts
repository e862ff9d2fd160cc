/**
 * BEP 52 merkle trees: SHA-256 over 16 KiB leaves, padded with zero hashes to a power of two.
 *
 * For: computing piece-layer hashes and pieces roots, in worker threads and in tests.
 * Not for: deciding which bytes form a leaf (that is the layout's job). Pure: no I/O.
 *
 * The padding rules, which every v2 implementation must agree on bit for bit:
 * - a leaf is the SHA-256 of up to 16 KiB of one file; the last leaf of a file may be shorter;
 * - leaves past the end of a file are 32 zero bytes, and the nodes above them are hashed as usual;
 * - a file of more than one piece is padded to a whole number of pieces, and its piece layer to a
 *   power of two with the root of an all-zero piece subtree;
 * - a file of one piece or less is padded only to the next power of two of its own leaf count.
 */
import crypto from 'node:crypto';

export const BLOCK_SIZE = 16 * 1024;
export const HASH_SIZE = 32;

type OneShot = (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer;
// crypto.hash (Node >= 20.12) skips the Hash object: about a third cheaper for the 64-byte inputs
// of inner nodes, of which a v2 torrent has one per 16 KiB of data.
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

/** SHA-256 of `data` as a new Buffer. */
export const sha256: (data: Uint8Array) => Buffer = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest();

const pairScratch = Buffer.alloc(2 * HASH_SIZE);

/** SHA-256 of the concatenation of two 32-byte nodes. */
export function hashPair(left: Uint8Array, right: Uint8Array): Buffer {
  pairScratch.set(left, 0);
  pairScratch.set(right, HASH_SIZE);
  return sha256(pairScratch);
}

const zeroCache: Buffer[] = [Buffer.alloc(HASH_SIZE)];

/** Root of a subtree of height `h` whose leaves are all zero hashes (h = 0: the zero leaf). */
export function zeroSubtreeRoot(h: number): Buffer {
  while (zeroCache.length <= h) {
    const below = zeroCache[zeroCache.length - 1]!;
    zeroCache.push(hashPair(below, below));
  }
  return zeroCache[h]!;
}

export function nextPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

export function log2Exact(n: number): number {
  const l = Math.round(Math.log2(n));
  if (2 ** l !== n) throw new RangeError(`${n} is not a power of two`);
  return l;
}

/**
 * Root of a tree whose bottom layer is `nodes` (concatenated 32-byte hashes) followed by copies
 * of `padNode` up to `width` entries; `width` is a power of two and at least the node count.
 * `padHeight` is the height of `padNode` above the leaves, so that pads higher up are the
 * roots of zero subtrees of the right height.
 */
export function rootOfLayer(nodes: Uint8Array, width: number, padHeight = 0): Buffer {
  let count = nodes.length / HASH_SIZE;
  if (!Number.isInteger(count) || count > width) throw new RangeError('layer does not fit its width');
  if (count === 0) return zeroSubtreeRoot(padHeight + log2Exact(width));
  let layer = Buffer.from(nodes.buffer, nodes.byteOffset, nodes.length);
  let h = padHeight;
  while (width > 1) {
    const nextCount = Math.ceil(count / 2);
    const next = Buffer.allocUnsafe(nextCount * HASH_SIZE);
    for (let i = 0; i < nextCount; i++) {
      // Siblings sit side by side in the layer: hash the 64 bytes in place, no copy.
      const node =
        2 * i + 1 < count
          ? sha256(layer.subarray(2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE))
          : hashPair(layer.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE), zeroSubtreeRoot(h));
      node.copy(next, i * HASH_SIZE);
    }
    layer = next;
    count = nextCount;
    width /= 2;
    h++;
  }
  return Buffer.from(layer.subarray(0, HASH_SIZE));
}

/** Leaf hashes of `data` (16 KiB each, the last one possibly shorter), written into `out`. */
export function leafHashes(data: Uint8Array, out: Buffer, outOffset = 0): number {
  const n = Math.ceil(data.length / BLOCK_SIZE);
  for (let i = 0; i < n; i++) {
    const block = data.subarray(i * BLOCK_SIZE, Math.min(data.length, (i + 1) * BLOCK_SIZE));
    sha256(block).copy(out, outOffset + i * HASH_SIZE);
  }
  return n;
}

/**
 * The hash that stands for one piece of a file in the merkle tree.
 * For a file longer than one piece: the root of the piece's subtree (its piece-layer entry).
 * For a file of one piece or less: the file's pieces root itself.
 */
export function pieceNodeHash(leaves: Uint8Array, pieceLength: number, fileLength: number): Buffer {
  const count = leaves.length / HASH_SIZE;
  const width = fileLength > pieceLength ? pieceLength / BLOCK_SIZE : nextPowerOfTwo(count);
  return rootOfLayer(leaves, width, 0);
}

/** Pieces root of a multi-piece file from its piece layer. */
export function piecesRootFromLayer(layer: Uint8Array, pieceLength: number): Buffer {
  const count = layer.length / HASH_SIZE;
  return rootOfLayer(layer, nextPowerOfTwo(count), log2Exact(pieceLength / BLOCK_SIZE));
}

/** Pieces root straight from a file's bytes (tests and small inputs; workers stream instead). */
export function piecesRootOf(data: Uint8Array, pieceLength: number): Buffer | null {
  if (data.length === 0) return null;
  const leavesPerPiece = pieceLength / BLOCK_SIZE;
  const numPieces = Math.ceil(data.length / pieceLength);
  if (numPieces === 1) {
    const leaves = Buffer.allocUnsafe(Math.ceil(data.length / BLOCK_SIZE) * HASH_SIZE);
    leafHashes(data, leaves);
    return pieceNodeHash(leaves, pieceLength, data.length);
  }
  const layer = Buffer.allocUnsafe(numPieces * HASH_SIZE);
  const leaves = Buffer.allocUnsafe(leavesPerPiece * HASH_SIZE);
  for (let p = 0; p < numPieces; p++) {
    const chunk = data.subarray(p * pieceLength, Math.min(data.length, (p + 1) * pieceLength));
    const n = leafHashes(chunk, leaves);
    pieceNodeHash(leaves.subarray(0, n * HASH_SIZE), pieceLength, data.length).copy(layer, p * HASH_SIZE);
  }
  return piecesRootFromLayer(layer, pieceLength);
}
