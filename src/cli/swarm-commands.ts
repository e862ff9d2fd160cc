/**
 * `seedbank get` and `seedbank seed`: progress on a terminal (bytes, rate, peers, ETA), a summary
 * at the end, `--json` for machines, and a clean stop on SIGINT/SIGTERM.
 */
import { type Discovery, type DiscoveryFlags, resolveDiscovery } from './discovery-flags.js';
import { isNameMagnet } from '../codec/name-magnet.js';
import { type DhtNodeStatus } from '../dht/node.js';
import { type UdpDht } from '../dht/udp.js';
import { nameValue, resolveName } from './name-commands.js';
import { readFile } from 'node:fs/promises';
import { MAX_SALT, decodeKeyFile } from '../codec/bep44.js';
import { type Metainfo } from '../codec/metainfo.js';
import { formatNameMagnet } from '../codec/name-magnet.js';
import { keepName } from '../client/name-keeper.js';
import path from 'node:path';
import { ORIGIN_POLICIES, type OriginPolicy, type Transfer, UsageError, isMagnet, parseMagnet, startDownload, startMagnetDownload, startSeeding } from '../index.js';
import { checkWebSeedUrl, loadTorrentFile, parseByteCount } from './commands.js';
import { formatBytes, formatRate, printJson, startProgress } from './output.js';

interface RateFlags {
  uploadRate?: string;
  downloadRate?: string;
}

function rates(f: RateFlags): { uploadRate: number; downloadRate: number } {
  const one = (v: string | undefined, what: string) => (v === undefined ? 0 : parseByteCount(v.replace(/\/s$/i, ''), what));
  return { uploadRate: one(f.uploadRate, '--upload-rate'), downloadRate: one(f.downloadRate, '--download-rate') };
}

export interface GetFlags extends RateFlags, DiscoveryFlags {
  output: string;
  webseed?: string[];
  originPolicy?: string;
  originRate?: string;
  originConnections?: string;
  peer: string[];
  tracker: string[];
  select: string[];
  seed?: boolean;
  port?: string;
  json?: boolean;
}

export interface SeedFlags extends RateFlags, DiscoveryFlags {
  /** Keep this name (BEP 46) alive while seeding: the key file, and the name under it. */
  nameKey?: string;
  nameSalt?: string;
  port?: string;
  fromOrigin?: boolean;
  webseed?: string[];
  peer: string[];
  tracker: string[];
  json?: boolean;
}

function originFlags(f: GetFlags): { webSeeds: string[]; originPolicy: OriginPolicy; originRate: number; originConnections: number } {
  const webSeeds = (f.webseed ?? []).map((w) => checkWebSeedUrl(w));
  const policy = f.originPolicy ?? 'balanced';
  if (!(ORIGIN_POLICIES as readonly string[]).includes(policy)) throw new UsageError(`--origin-policy ${JSON.stringify(policy)} is not one of ${ORIGIN_POLICIES.join(', ')}`);
  const conns = Number(f.originConnections ?? '4');
  if (!Number.isInteger(conns) || conns < 1 || conns > 64) throw new UsageError(`--origin-connections ${JSON.stringify(f.originConnections)} is not a whole number from 1 to 64`);
  const originRate = f.originRate === undefined ? 0 : parseByteCount(f.originRate.replace(/\/s$/i, ''), '--origin-rate');
  return { webSeeds, originPolicy: policy as OriginPolicy, originRate, originConnections: conns };
}

function parsePort(s: string | undefined): number {
  if (s === undefined) return 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port ${JSON.stringify(s)} is not a port number (0-65535)`);
  return n;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = () => on('SIGINT');
    const onTerm = () => on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

function summary(tr: Transfer, seconds: number) {
  const s = tr.stats();
  const t = tr.metainfo;
  const fetched = s.bytesFromPeers + s.bytesFromOrigins;
  return {
    name: t.name,
    infoHashV1: t.infoHashV1?.toString('hex') ?? null,
    infoHashV2: t.infoHashV2?.toString('hex') ?? null,
    seconds,
    complete: s.piecesWanted === 0,
    bytesDownloaded: { peers: s.bytesFromPeers, origins: s.bytesFromOrigins },
    // What each origin served us, and what a plain download from the bucket would have cost it.
    origins: s.origins.map((o) => ({ url: o.url, bytes: o.bytes, requests: o.requests, failures: o.failures, hashFailures: o.hashFailures, state: o.state, lastError: o.lastError })),
    originBytesWithoutSwarm: fetched,
    originBytesSaved: Math.max(0, fetched - s.bytesFromOrigins),
    bytesUploaded: s.bytesUploaded,
    peersSeen: s.peersSeen,
    // Distinct addresses each source named; one peer may be named by several.
    peersFrom: { tracker: s.peersFrom.tracker, dht: s.peersFrom.dht, pex: s.peersFrom.pex, lsd: s.peersFrom.lsd, manual: s.peersFrom.manual, incoming: s.peersFrom.incoming },
    dht: tr.dht ? dhtSummary(tr.dht) : null,
    hashFailures: s.hashFailures,
    bannedPeers: s.bannedPeers,
    resumedPieces: tr.resumedPieces,
    pieces: { have: s.piecesHave, total: t.numPieces },
  };
}

/** What the DHT did for this transfer: its sockets, table sizes per family (BEP 32) and work. */
export function dhtSummary(dht: UdpDht) {
  const st = dht.status();
  const both = [st.v4, ...(st.v6 ? [st.v6] : [])];
  const sum = (f: (s: DhtNodeStatus) => number) => both.reduce((a, s) => a + f(s), 0);
  return {
    port: dht.port,
    port6: dht.port6,
    nodes: sum((s) => s.nodes),
    nodesV4: st.v4.nodes,
    nodesV6: st.v6?.nodes ?? 0,
    lookups: sum((s) => s.lookups),
    queriesAnswered: sum((s) => s.queriesAnswered),
    externalAddress: st.v4.externalAddress ?? st.v6?.externalAddress ?? null,
  };
}

/** Problems that do not stop a transfer (an unusable DHT state file, no IPv6): told to a person at a terminal. */
export function warn(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`seedbank: warning: ${message}\n`);
}

/** `seed --name-key KEYFILE [--name-salt NAME]`: the key, checked, and the value that points at `t`. */
async function loadNameKey(file: string, saltText: string, disc: Discovery, t: Metainfo) {
  if (!disc.dht) throw new UsageError('--name-key keeps a name alive in the DHT, and --no-dht (or the config) turns the DHT off');
  if (t.private) throw new UsageError(`${t.name} is a private torrent: it is never put in the DHT, so --name-key cannot point a name at it`);
  const salt = Buffer.from(saltText, 'utf8');
  if (salt.length > MAX_SALT) throw new UsageError(`--name-salt is ${salt.length} bytes; BEP 44 allows ${MAX_SALT}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --name-key ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const keys = decodeKeyFile(text);
  return { keys, salt, value: nameValue(t), magnet: formatNameMagnet({ publicKey: keys.publicKey, salt }) };
}

function discoveryOpts(d: Discovery) {
  return { dht: d.dht, dhtBootstrap: d.dhtBootstrap, dhtSettings: d.dhtSettings, ...(d.lsd !== undefined ? { lsd: d.lsd } : {}) };
}

export async function runGet(source: string, f: GetFlags): Promise<number> {
  const disc = await resolveDiscovery(f, warn);
  try {
    return await get(source, f, disc);
  } finally {
    await disc.release();
  }
}

export async function runSeed(torrentFile: string, dataDir: string, f: SeedFlags): Promise<number> {
  if (f.webseed?.length && !f.fromOrigin) throw new UsageError('seed --webseed only makes sense with --from-origin');
  const disc = await resolveDiscovery(f, warn);
  try {
    return await seed(torrentFile, dataDir, f, disc);
  } finally {
    await disc.release();
  }
}

async function get(source: string, f: GetFlags, disc: Discovery): Promise<number> {
  const started = Date.now();
  const quiet = !!f.json && !process.stderr.isTTY;
  let check: ReturnType<typeof startProgress> | null = null;
  const opts = {
    dataDir: f.output,
    port: parsePort(f.port),
    peers: f.peer,
    trackers: f.tracker,
    select: f.select,
    ...rates(f),
    ...discoveryOpts(disc),
    ...originFlags(f),
    onCheckProgress: (done: number, total: number) => {
      check ??= startProgress('checking', total, quiet);
      check.update(done);
    },
  };
  let tr: Transfer;
  if (isMagnet(source)) {
    const m = isNameMagnet(source) ? (await resolveName(source, disc)).magnet : parseMagnet(source);
    if (!quiet) process.stderr.write('fetching metadata from peers...\n');
    tr = await startMagnetDownload(m, opts);
  } else {
    tr = await startDownload(await loadTorrentFile(source), opts);
  }
  const t = tr.metainfo;
  (check as ReturnType<typeof startProgress> | null)?.stop();
  const signal = untilSignal();
  const bar = startProgress('downloading', tr.wantedBytes, quiet);
  const baseline = tr.stats().piecesHave;
  const tick = setInterval(() => {
    const s = tr.stats();
    bar.update(Math.min(tr.wantedBytes, s.bytesFromPeers + s.bytesFromOrigins));
  }, 250);
  const outcome = await Promise.race([tr.torrent.done.then(() => 'done' as const), signal]).catch((e: Error) => e);
  clearInterval(tick);
  bar.stop();
  const seconds = (Date.now() - started) / 1000;
  if (outcome instanceof Error) {
    await tr.stop();
    throw outcome;
  }
  const result = summary(tr, seconds);
  if (!f.json) {
    const { peers, origins } = result.bytesDownloaded;
    const rate = (peers + origins) / Math.max(seconds, 1e-3);
    const fromOrigins = result.origins.length ? `, ${formatBytes(origins)} from ${result.origins.length} origin${result.origins.length > 1 ? 's' : ''}` : '';
    process.stdout.write(
      `${outcome === 'done' ? 'complete' : `stopped (${outcome})`}: ${t.name} in ${path.resolve(f.output)}: ` +
        `${formatBytes(peers)} from ${result.peersSeen} peers${fromOrigins} in ${seconds.toFixed(2)} s (${formatRate(rate)}), ` +
        `${result.pieces.have - baseline} pieces fetched, ${tr.resumedPieces} already here, ${result.hashFailures} hash failures, ${result.bannedPeers} banned\n`,
    );
  }
  if (outcome === 'done' && f.seed) {
    if (!f.json) process.stdout.write(`seeding on port ${tr.session.port}; Ctrl-C to stop\n`);
    await signal;
  }
  await tr.stop();
  if (f.json) printJson({ ...summary(tr, seconds), bytesUploaded: tr.stats().bytesUploaded });
  return outcome === 'done' ? 0 : 1;
}

async function seed(torrentFile: string, dataDir: string, f: SeedFlags, disc: Discovery): Promise<number> {
  const t = await loadTorrentFile(torrentFile);
  // The key is read before anything starts: a wrong path is one line, not a seed without its name.
  const name = f.nameKey === undefined ? null : await loadNameKey(f.nameKey, f.nameSalt ?? '', disc, t);
  const quiet = !!f.json && !process.stderr.isTTY;
  let check: ReturnType<typeof startProgress> | null = null;
  const tr = await startSeeding(t, {
    dataDir,
    port: parsePort(f.port),
    peers: f.peer,
    trackers: f.tracker,
    ...rates(f),
    ...discoveryOpts(disc),
    ...(f.fromOrigin ? { fromOrigin: true, ...originFlags({ output: '', peer: [], tracker: [], select: [], webseed: f.webseed }) } : {}),
    onCheckProgress: (done, total) => {
      check ??= startProgress('checking', total, quiet);
      check.update(done);
    },
  });
  (check as ReturnType<typeof startProgress> | null)?.stop();
  const started = Date.now();
  const keeper = name && tr.dht ? keepName(tr.dht, name.keys, name.salt, name.value) : null;
  const hello = {
    event: 'seeding',
    name: t.name,
    port: tr.session.port,
    infoHashV1: t.infoHashV1?.toString('hex') ?? null,
    infoHashV2: t.infoHashV2?.toString('hex') ?? null,
    ...(name ? { datasetName: name.magnet } : {}),
  };
  if (f.json) process.stdout.write(`${JSON.stringify(hello)}\n`);
  else process.stdout.write(`seeding ${t.name} on port ${tr.session.port}; Ctrl-C to stop\n`);
  const sig = await untilSignal();
  keeper?.stop();
  await tr.stop();
  const seconds = (Date.now() - started) / 1000;
  const s = tr.stats();
  if (f.json) {
    const origins = s.origins.map((o) => ({ url: o.url, bytes: o.bytes, state: o.state }));
    const dht = tr.dht ? dhtSummary(tr.dht) : null;
    process.stdout.write(`${JSON.stringify({ event: 'stopped', signal: sig, seconds, bytesUploaded: s.bytesUploaded, peersSeen: s.peersSeen, peersFrom: s.peersFrom, dht, ...(keeper ? { nameKeeper: keeper.status } : {}), bytesFromOrigins: s.bytesFromOrigins, origins })}\n`);
  }
  else process.stdout.write(`stopped (${sig}) after ${seconds.toFixed(0)} s: uploaded ${formatBytes(s.bytesUploaded)} to ${s.peersSeen} peers\n`);
  return 0;
}
