/**
 * Creating a torrent from files on disk: scan, lay out, hash in worker threads, encode.
 * The result is parsed back with the same parser every downloaded torrent goes through, so
 * seedbank never writes a torrent it would not accept.
 */
import { type TorrentVersion, defaultPieceLength, filePieces, planLayout } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type Metainfo, MAX_PIECE_LENGTH, hex, parseTorrent } from '../codec/metainfo.js';
import { buildTorrent } from '../codec/metainfo-build.js';
import { checkComponent } from '../codec/paths.js';
import { SeedbankError, UsageError } from '../errors.js';
import { hashLayout, rootsOfLayers } from '../hashing/pool.js';
import { PIECE_READ } from '../hashing/protocol.js';
import { VERSION } from '../version.js';
import { scanPath } from './scan.js';

export interface CreateOptions {
  /** @default 'hybrid' */
  version?: TorrentVersion;
  /** Bytes, a power of two of at least 16 KiB. @default chosen from the data size (about 1,024 pieces at most) */
  pieceLength?: number;
  /** Tracker URLs, each in its own tier (BEP 12), in order. */
  trackers?: string[];
  /** BEP 19 web seed URLs. */
  webSeeds?: string[];
  /** BEP 27. @default false */
  private?: boolean;
  /** @default the file or folder's own name */
  name?: string;
  comment?: string;
  /** Seconds since the epoch, or null for none (reproducible output). @default now */
  creationDate?: number | null;
  /** @default available parallelism */
  threads?: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
}

export interface Created {
  torrent: Buffer;
  metainfo: Metainfo;
}

export function checkPieceLength(n: number): void {
  if (!Number.isSafeInteger(n) || n < 16384 || n > MAX_PIECE_LENGTH || (n & (n - 1)) !== 0) {
    throw new UsageError(`piece length ${n} must be a power of two from 16384 (16 KiB) to ${MAX_PIECE_LENGTH} (256 MiB)`, 'BAD_PIECE_LENGTH');
  }
}

export async function createTorrent(inputPath: string, opts: CreateOptions = {}): Promise<Created> {
  const version = opts.version ?? 'hybrid';
  const scan = await scanPath(inputPath);
  const name = opts.name ?? scan.name;
  checkComponent(name, 'torrent name');
  if (scan.singleFile && opts.name !== undefined) scan.files[0]!.path = [name];
  const pieceLength = opts.pieceLength ?? defaultPieceLength(scan.files.map((f) => f.length), version);
  checkPieceLength(pieceLength);
  if (scan.totalBytes === 0) throw new UsageError(`${inputPath} holds only empty files: nothing to hash`, 'INPUT_EMPTY');

  const layout = planLayout(
    scan.files.map((f) => ({ path: f.path, length: f.length, attr: f.executable ? 'x' : '' })),
    pieceLength,
    version,
  );
  const absByPath = new Map(scan.files.map((f) => [f.path.join('/'), f.absPath]));
  const paths = layout.files.map((f) => (f.pad ? null : absByPath.get(f.path.join('/'))!));
  const v1 = version !== 'v2';
  const v2 = version !== 'v1';
  const hashed = await hashLayout({
    layout,
    paths,
    v1,
    v2,
    threads: opts.threads,
    signal: opts.signal,
    onProgress: (done) => opts.onProgress?.(done, scan.totalBytes),
  });
  const short = hashed.status.findIndex((s) => s !== PIECE_READ);
  if (short >= 0) {
    throw new SeedbankError('INPUT_CHANGED', `a file shrank or vanished while it was being hashed (piece ${short}); run create again`);
  }

  const pieceLayers = new Map<string, Buffer>();
  if (v2) {
    const multi = layout.files.filter((f) => !f.pad && f.length > pieceLength);
    const layerOf = (f: (typeof multi)[number]): Buffer => {
      const { first, end } = filePieces(layout, f);
      return Buffer.from(hashed.nodes!.subarray(first * HASH_SIZE, end * HASH_SIZE));
    };
    const layers = multi.map(layerOf);
    const roots = await rootsOfLayers(layers, pieceLength, opts.threads);
    multi.forEach((f, i) => {
      f.piecesRoot = roots[i]!;
      pieceLayers.set(hex(roots[i]!), layers[i]!);
    });
    for (const f of layout.files) {
      if (f.pad || f.length === 0 || f.length > pieceLength) continue;
      const { first } = filePieces(layout, f);
      f.piecesRoot = Buffer.from(hashed.nodes!.subarray(first * HASH_SIZE, (first + 1) * HASH_SIZE));
    }
  }

  const torrent = buildTorrent({
    version,
    name,
    layout,
    singleFile: scan.singleFile,
    pieces: hashed.sha1,
    pieceLayers,
    trackers: (opts.trackers ?? []).map((t) => [t]),
    webSeeds: opts.webSeeds ?? [],
    private: opts.private ?? false,
    comment: opts.comment,
    createdBy: `seedbank/${VERSION}`,
    creationDate: opts.creationDate === null ? undefined : (opts.creationDate ?? Math.floor(Date.now() / 1000)),
  });
  return { torrent, metainfo: parseTorrent(torrent) };
}
