/**
 * Hash worker: reads pieces straight from disk at their offsets and hashes them (SHA-1 for v1,
 * BEP 52 merkle nodes for v2), so the main thread never touches the bytes. Reads are synchronous
 * on purpose: they block only this worker, and they are the fastest way to fill one reused buffer.
 *
 * File handles: at most one open at a time per worker, whatever the number of files.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { fileAt } from '../codec/layout.js';
import { BLOCK_SIZE, HASH_SIZE, leafHashes, pieceNodeHash, piecesRootFromLayer } from '../codec/merkle.js';
import { PIECE_MISSING, PIECE_READ, type PiecesResult, type WorkerInit, type WorkerJob, type WorkerResult } from './protocol.js';

const init = workerData as WorkerInit;
const files = init.files.map((f) => ({ ...f, pad: f.path === null }));
// Allocated on first use: a worker that only computes roots needs neither.
let pieceBuf: Buffer | null = null;
let leafBuf: Buffer | null = null;

let openPath: string | null = null;
let openFd = -1;

function fdFor(path: string): number {
  if (openPath === path) return openFd;
  if (openFd >= 0) closeSync(openFd);
  openFd = -1;
  openPath = null;
  const fd = openSync(path, 'r');
  openFd = fd;
  openPath = path;
  return fd;
}

/** Fills `dst` with `length` bytes of a file at `pos`; returns false if the file lacks them. */
function readExact(path: string, pos: number, dst: Buffer, dstOff: number, length: number): boolean {
  let fd: number;
  try {
    fd = fdFor(path);
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
  let done = 0;
  while (done < length) {
    const n = readSync(fd, dst, dstOff + done, length - done, pos + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function hashPieces(first: number, end: number): PiecesResult {
  pieceBuf ??= Buffer.allocUnsafe(init.pieceLength);
  leafBuf ??= Buffer.allocUnsafe(Math.ceil(init.pieceLength / BLOCK_SIZE) * HASH_SIZE);
  const n = end - first;
  const sha1 = init.v1 ? Buffer.alloc(n * 20) : null;
  const nodes = init.v2 ? Buffer.alloc(n * HASH_SIZE) : null;
  const status = Buffer.alloc(n);
  let bytes = 0;
  for (let p = first; p < end; p++) {
    const start = p * init.pieceLength;
    const len = Math.min(init.pieceLength, init.totalLength - start);
    let ok = true;
    let fi = fileAt(files, start);
    let at = start;
    // The file that owns the piece's first byte; for v2 layouts the piece holds only its data.
    const owner = fi;
    while (at < start + len && fi < files.length) {
      const f = files[fi]!;
      const from = at - f.offset;
      const take = Math.min(f.length - from, start + len - at);
      if (take > 0) {
        if (f.pad) pieceBuf.fill(0, at - start, at - start + take);
        else {
          if (!readExact(f.path!, from, pieceBuf, at - start, take)) ok = false;
          bytes += take;
        }
        at += take;
      }
      fi++;
    }
    if (at < start + len) pieceBuf.fill(0, at - start, len); // v2 stream's virtual tail
    const i = p - first;
    status[i] = ok ? PIECE_READ : PIECE_MISSING;
    if (sha1) createHash('sha1').update(pieceBuf.subarray(0, len)).digest().copy(sha1, i * 20);
    if (nodes) {
      const f = files[owner]!;
      const dataLen = Math.min(len, f.offset + f.length - start);
      const leaves = leafHashes(pieceBuf.subarray(0, dataLen), leafBuf);
      pieceNodeHash(leafBuf.subarray(0, leaves * HASH_SIZE), init.pieceLength, f.length).copy(nodes, i * HASH_SIZE);
    }
  }
  return {
    kind: 'pieces',
    id: 0,
    first,
    end,
    sha1: sha1 ? toArrayBuffer(sha1) : null,
    nodes: nodes ? toArrayBuffer(nodes) : null,
    status: toArrayBuffer(status),
    bytes,
  };
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  // Buffer.alloc(n) for n > pool size owns its ArrayBuffer; copy otherwise so we can transfer.
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer;
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

parentPort!.on('message', (job: WorkerJob) => {
  try {
    if (job.kind === 'pieces') {
      const r = hashPieces(job.first, job.end);
      r.id = job.id;
      const transfer = [r.status, ...(r.sha1 ? [r.sha1] : []), ...(r.nodes ? [r.nodes] : [])];
      parentPort!.postMessage(r, transfer);
    } else if (job.kind === 'memory') {
      const piece = Buffer.from(job.buffer, job.offset, job.length);
      const sha1 = job.v1 ? createHash('sha1').update(piece).digest() : null;
      let node: Buffer | null = null;
      if (job.v2) {
        leafBuf ??= Buffer.allocUnsafe(Math.ceil(job.v2.pieceLength / BLOCK_SIZE) * HASH_SIZE);
        if (leafBuf.length < Math.ceil(job.v2.pieceLength / BLOCK_SIZE) * HASH_SIZE) leafBuf = Buffer.allocUnsafe(Math.ceil(job.v2.pieceLength / BLOCK_SIZE) * HASH_SIZE);
        const leaves = leafHashes(piece.subarray(0, job.v2.dataLength), leafBuf);
        node = pieceNodeHash(leafBuf.subarray(0, leaves * HASH_SIZE), job.v2.pieceLength, job.v2.fileLength);
      }
      const out = { kind: 'memory' as const, id: job.id, sha1: sha1 ? toArrayBuffer(Buffer.from(sha1)) : null, node: node ? toArrayBuffer(Buffer.from(node)) : null, buffer: job.buffer };
      parentPort!.postMessage(out satisfies WorkerResult, [job.buffer]);
    } else {
      const root = piecesRootFromLayer(Buffer.from(job.layer), job.pieceLength);
      const out = toArrayBuffer(Buffer.from(root));
      parentPort!.postMessage({ kind: 'root', id: job.id, root: out } satisfies WorkerResult, [out]);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    parentPort!.postMessage({ kind: 'error', id: job.id, message: err.message, code: err.code } satisfies WorkerResult);
  }
});
