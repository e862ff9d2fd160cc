/**
 * Hashes every piece of a layout with one worker thread per core, streaming from disk.
 *
 * For: creating torrents and checking data on disk (verify, resume). Not for: pieces that arrive
 * over the network (the engine hashes those from memory).
 *
 * Memory is bounded by one piece buffer per worker plus 53 bytes of results per piece, whatever
 * the dataset size; each worker holds at most one open file.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Layout } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type JobBody, type StreamFile, type WorkerInit, type WorkerResult } from './protocol.js';

export interface HashRequest {
  layout: Layout;
  /** Absolute path of each layout entry (null for pads), in layout order. */
  paths: (string | null)[];
  v1: boolean;
  v2: boolean;
  /** @default available parallelism, at most 8 */
  threads?: number;
  /** Called with the number of data bytes hashed so far. */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
}

export interface HashResult {
  /** 20 bytes per piece (v1), else null. */
  sha1: Buffer | null;
  /** 32 bytes per piece (v2): piece subtree roots, or pieces roots of one-piece files. */
  nodes: Buffer | null;
  /** One byte per piece: PIECE_READ or PIECE_MISSING. */
  status: Buffer;
}

/** Bytes of data a worker hashes per job: large enough to amortise messages, small for progress. */
const JOB_BYTES = 8 * 1024 * 1024;

export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

export class HashPool {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: WorkerResult) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;

  constructor(init: WorkerInit, threads: number) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
      w.on('message', (r: WorkerResult) => this.settle(r));
      w.on('error', (e) => this.failAll(e));
      w.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`hash worker exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  run(worker: number, job: JobBody, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[worker]!.postMessage({ ...job, id }, transfer);
    });
  }

  private settle(r: WorkerResult): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.kind === 'error') {
      const e = new Error(r.message) as NodeJS.ErrnoException;
      if (r.code) e.code = r.code;
      p.reject(e);
    } else p.resolve(r);
  }

  private failAll(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Hashes all pieces of `req.layout` from disk. */
export async function hashLayout(req: HashRequest): Promise<HashResult> {
  const { layout } = req;
  const n = layout.numPieces;
  const files: StreamFile[] = layout.files.map((f, i) => ({ path: f.pad ? null : req.paths[i]!, length: f.length, offset: f.offset }));
  const init: WorkerInit = { files, pieceLength: layout.pieceLength, totalLength: layout.totalLength, v1: req.v1, v2: req.v2 };
  const perJob = Math.max(1, Math.floor(JOB_BYTES / layout.pieceLength));
  const jobs = Math.ceil(n / perJob);
  const threads = Math.max(1, Math.min(req.threads ?? defaultThreads(), jobs));
  const result: HashResult = {
    sha1: req.v1 ? Buffer.alloc(n * 20) : null,
    nodes: req.v2 ? Buffer.alloc(n * HASH_SIZE) : null,
    status: Buffer.alloc(n),
  };
  if (n === 0) return result;
  const pool = new HashPool(init, threads);
  let nextJob = 0;
  let bytesDone = 0;
  const drive = async (w: number): Promise<void> => {
    while (nextJob < jobs) {
      req.signal?.throwIfAborted();
      const first = nextJob++ * perJob;
      const r = await pool.run(w, { kind: 'pieces', first, end: Math.min(n, first + perJob) });
      if (r.kind !== 'pieces') throw new Error('unexpected worker reply');
      if (result.sha1 && r.sha1) Buffer.from(r.sha1).copy(result.sha1, r.first * 20);
      if (result.nodes && r.nodes) Buffer.from(r.nodes).copy(result.nodes, r.first * HASH_SIZE);
      Buffer.from(r.status).copy(result.status, r.first);
      bytesDone += r.bytes;
      req.onProgress?.(bytesDone);
    }
  };
  try {
    // Two jobs in flight per worker keep it busy while the other result crosses threads.
    await Promise.all(Array.from({ length: threads * 2 }, (_, i) => drive(i % threads)));
  } finally {
    await pool.close();
  }
  return result;
}

/**
 * Pieces roots of multi-piece files from their piece layers, computed in worker threads (a file
 * of 250,000 pieces takes half a million hashes: not for the event loop).
 */
export async function rootsOfLayers(layers: Buffer[], pieceLength: number, threads = defaultThreads()): Promise<Buffer[]> {
  if (layers.length === 0) return [];
  const init: WorkerInit = { files: [], pieceLength, totalLength: 0, v1: false, v2: false };
  const pool = new HashPool(init, Math.min(threads, layers.length));
  try {
    return await Promise.all(
      layers.map(async (layer, i) => {
        const copy = layer.buffer.slice(layer.byteOffset, layer.byteOffset + layer.byteLength) as ArrayBuffer;
        const r = await pool.run(i % pool.size, { kind: 'root', layer: copy, pieceLength }, [copy]);
        if (r.kind !== 'root') throw new Error('unexpected worker reply');
        return Buffer.from(r.root);
      }),
    );
  } finally {
    await pool.close();
  }
}
