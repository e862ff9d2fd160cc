/**
 * `seedbank create`, `info` and `verify`: argument handling and human output around the library
 * API. Nothing here knows how torrents work; it calls src/index.ts.
 */
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_BENCODE_LIMITS } from '../codec/bencode.js';
import { type TorrentVersion } from '../codec/layout.js';
import { isMagnet, parseMagnet } from '../codec/magnet.js';
import { type Metainfo, parseTorrent } from '../codec/metainfo.js';
import { createTorrent } from '../content/create.js';
import { type TorrentDescription, describeMagnet, describeTorrent } from '../content/describe.js';
import { verifyData } from '../content/verify.js';
import { UsageError } from '../errors.js';
import { formatBytes, formatRate, printJson, startProgress } from './output.js';

export interface CreateFlags {
  output?: string;
  v1?: boolean;
  v2?: boolean;
  hybrid?: boolean;
  pieceLength?: string;
  tracker: string[];
  webseed: string[];
  private?: boolean;
  name?: string;
  comment?: string;
  json?: boolean;
  date?: boolean;
}

export function parseByteCount(s: string, what: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${what} ${JSON.stringify(s)} is not a number of bytes (e.g. 262144 or 256KiB)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

function checkUrl(u: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new UsageError(`${what} ${JSON.stringify(u)} is not a URL`);
  }
  if (!['http:', 'https:', 'udp:', 'wss:'].includes(parsed.protocol)) throw new UsageError(`${what} ${JSON.stringify(u)}: unsupported scheme ${parsed.protocol}`);
  return u;
}

/** A BEP 19 web seed given on the command line: an http(s) URL, or a one-line usage error. */
export function checkWebSeedUrl(w: string, what = '--webseed'): string {
  let parsed: URL;
  try {
    parsed = new URL(w);
  } catch {
    throw new UsageError(`${what} ${JSON.stringify(w)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`${what} ${JSON.stringify(w)} must be an http(s) URL`);
  return w;
}

export async function runCreate(input: string, f: CreateFlags): Promise<number> {
  const versions = [f.v1 && 'v1', f.v2 && 'v2', f.hybrid && 'hybrid'].filter(Boolean) as TorrentVersion[];
  if (versions.length > 1) throw new UsageError('choose one of --v1, --v2 and --hybrid');
  const version = versions[0] ?? 'hybrid';
  const out = f.output ?? `${path.basename(path.resolve(input))}.torrent`;
  const trackers = f.tracker.map((t) => checkUrl(t, '--tracker'));
  const webSeeds = f.webseed.map((w) => checkWebSeedUrl(w));
  const started = Date.now();
  let progress: ReturnType<typeof startProgress> | null = null;
  const { torrent, metainfo } = await createTorrent(input, {
    version,
    pieceLength: f.pieceLength === undefined ? undefined : parseByteCount(f.pieceLength, '--piece-length'),
    trackers,
    webSeeds,
    private: f.private ?? false,
    name: f.name,
    comment: f.comment,
    creationDate: f.date === false ? null : undefined,
    onProgress: (done, total) => {
      progress ??= startProgress('hashing', total, !!f.json && !process.stderr.isTTY);
      progress.update(done);
    },
  });
  (progress as ReturnType<typeof startProgress> | null)?.stop();
  await writeAtomically(out, torrent);
  const secs = (Date.now() - started) / 1000;
  if (f.json) {
    printJson({ ...describeTorrent(metainfo), torrentFile: path.resolve(out), seconds: secs });
  } else {
    const d = describeTorrent(metainfo);
    process.stdout.write(`created ${out}: ${d.version} torrent of ${formatBytes(d.totalLength!)} in ${d.files!.length} files, ${d.numPieces} pieces of ${formatBytes(d.pieceLength!)}\n`);
    process.stdout.write(`hashed in ${secs.toFixed(2)} s (${formatRate(d.totalLength! / Math.max(secs, 1e-3))})\n`);
    printHashes(d);
  }
  return 0;
}

function printHashes(d: TorrentDescription): void {
  if (d.infoHashV1) process.stdout.write(`info hash v1: ${d.infoHashV1}\n`);
  if (d.infoHashV2) process.stdout.write(`info hash v2: ${d.infoHashV2}\n`);
  process.stdout.write(`magnet:       ${d.magnet}\n`);
}

/** Writes to a temporary name and renames, so a full disk or a kill never leaves half a torrent. */
async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.partial`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'OUTPUT_UNWRITABLE');
  }
}

export async function loadTorrentFile(file: string): Promise<Metainfo> {
  let bytes: Buffer;
  try {
    // Refuse before reading: a hostile "torrent" can be any size.
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${file} is not a file`, 'INPUT_UNREADABLE');
    if (st.size > DEFAULT_BENCODE_LIMITS.maxBytes) {
      throw new UsageError(`${file} is ${st.size} bytes, more than the ${DEFAULT_BENCODE_LIMITS.maxBytes}-byte limit for a torrent`, 'INPUT_TOO_LARGE');
    }
    bytes = await readFile(file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'INPUT_UNREADABLE');
  }
  return parseTorrent(bytes);
}

export async function runInfo(source: string, f: { json?: boolean }): Promise<number> {
  const d = isMagnet(source) ? describeMagnet(parseMagnet(source)) : describeTorrent(await loadTorrentFile(source));
  if (f.json) {
    printJson(d);
    return 0;
  }
  const w = (k: string, v: string) => process.stdout.write(`${`${k}:`.padEnd(14)}${v}\n`);
  w('name', d.name ?? '(unknown)');
  w('version', d.version === 'hybrid' ? 'hybrid (v1 + v2)' : (d.version ?? '?'));
  if (d.pieceLength !== null) {
    w('piece length', formatBytes(d.pieceLength));
    w('total size', `${formatBytes(d.totalLength!)} (${d.totalLength} bytes) in ${d.files!.length} files${d.padFiles ? ` + ${d.padFiles} pad files` : ''}`);
    w('pieces', String(d.numPieces));
    w('private', d.private ? 'yes' : 'no');
  }
  if (d.infoHashV1) w('info hash v1', d.infoHashV1);
  if (d.infoHashV2) w('info hash v2', `${d.infoHashV2} (truncated: ${d.infoHashV2Truncated})`);
  for (const tier of d.trackers) w('tracker', tier.join(', '));
  for (const ws of d.webSeeds) w('web seed', ws);
  if (d.comment) w('comment', d.comment);
  if (d.createdBy) w('created by', d.createdBy);
  if (d.creationDate) w('created', new Date(d.creationDate * 1000).toISOString());
  w('magnet', d.magnet);
  if (d.files) {
    process.stdout.write('files:\n');
    const shown = d.files.slice(0, 1000);
    for (const file of shown) {
      const root = file.piecesRoot ? `${file.piecesRoot}  ` : d.version === 'v1' ? '' : `${'-'.repeat(64)}  `;
      process.stdout.write(`  ${String(file.length).padStart(14)}  ${root}${file.path}\n`);
    }
    if (d.files.length > shown.length) process.stdout.write(`  ... and ${d.files.length - shown.length} more (use --json for all)\n`);
  }
  return 0;
}

export async function runVerify(torrentFile: string, dataDir: string, f: { json?: boolean }): Promise<number> {
  const t = await loadTorrentFile(torrentFile);
  let progress: ReturnType<typeof startProgress> | null = null;
  const started = Date.now();
  const report = await verifyData(t, dataDir, {
    onProgress: (done, total) => {
      progress ??= startProgress('verifying', total, !!f.json && !process.stderr.isTTY);
      progress.update(done);
    },
  });
  (progress as ReturnType<typeof startProgress> | null)?.stop();
  const secs = (Date.now() - started) / 1000;
  if (f.json) {
    printJson({ name: t.name, dataDir: path.resolve(dataDir), seconds: secs, ...report });
    return report.complete ? 0 : 1;
  }
  const bad = report.files.filter((x) => x.state !== 'complete');
  for (const file of bad) {
    const detail: string[] = [];
    if (file.corruptPieces.length) detail.push(`corrupt piece${file.corruptPieces.length > 1 ? 's' : ''} ${listPieces(file.corruptPieces)}`);
    if (file.missingPieces.length) detail.push(`missing piece${file.missingPieces.length > 1 ? 's' : ''} ${listPieces(file.missingPieces)}`);
    if (file.state === 'oversized') detail.push(`${file.lengthOnDisk} bytes on disk, expected ${file.length}`);
    process.stdout.write(`${file.state.padEnd(10)} ${file.path}${detail.length ? `: ${detail.join('; ')}` : ''}\n`);
  }
  const okFiles = report.files.length - bad.length;
  const p = report.pieces;
  process.stdout.write(
    `${report.complete ? 'complete' : 'NOT complete'}: ${okFiles}/${report.files.length} files, ${p.complete}/${p.total} pieces verified` +
      `${p.missing ? `, ${p.missing} missing` : ''}${p.corrupt ? `, ${p.corrupt} corrupt` : ''} (${formatBytes(report.bytesChecked)} in ${secs.toFixed(2)} s)\n`,
  );
  return report.complete ? 0 : 1;
}

function listPieces(ps: number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < ps.length; ) {
    let j = i;
    while (j + 1 < ps.length && ps[j + 1] === ps[j]! + 1) j++;
    ranges.push(i === j ? `${ps[i]}` : `${ps[i]}-${ps[j]}`);
    i = j + 1;
  }
  return ranges.length > 20 ? `${ranges.slice(0, 20).join(', ')}, ...` : ranges.join(', ');
}
