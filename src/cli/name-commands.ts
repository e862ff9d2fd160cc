/**
 * `seedbank keygen` and `seedbank name publish`, and resolving a name for `get`.
 *
 * `seedbank keygen`: an ed25519 key for signing dataset names (BEP 44 mutable items, BEP 46).
 * The key file is written with mode 0600 and never over an existing file unless asked: losing a
 * name's key loses the name, and a key file another user can read lets them publish under it.
 */
import { open, readFile } from 'node:fs/promises';
import { MAX_SALT, decodeKeyFile, decodeNameValue, encodeKeyFile, encodeNameValue, generateKeys } from '../codec/bep44.js';
import { type Magnet } from '../codec/magnet.js';
import { type Metainfo } from '../codec/metainfo.js';
import { formatNameMagnet, parseNameMagnet } from '../codec/name-magnet.js';
import { UsageError } from '../index.js';
import { loadTorrentFile } from './commands.js';
import { type Discovery, joinedDht, resolveDiscovery } from './discovery-flags.js';

export interface KeygenFlags {
  output?: string;
  force?: boolean;
  json?: boolean;
}

export async function runKeygen(f: KeygenFlags): Promise<number> {
  if (!f.output) throw new UsageError('keygen needs -o KEYFILE (where to write the new key)');
  const keys = generateKeys();
  let fh;
  try {
    // 'wx': fail if the file exists; the mode applies when the file is created.
    fh = await open(f.output, f.force ? 'w' : 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${f.output} exists; keygen does not overwrite a key (pass --force to replace it)`);
    throw e;
  }
  try {
    await fh.chmod(0o600); // --force over an existing file keeps its old mode otherwise
    await fh.writeFile(encodeKeyFile(keys));
  } finally {
    await fh.close();
  }
  const publicKey = keys.publicKey.toString('hex');
  if (f.json) process.stdout.write(`${JSON.stringify({ file: f.output, publicKey, name: `magnet:?xs=urn:btpk:${publicKey}` })}\n`);
  else process.stdout.write(`wrote ${f.output} (keep it secret: it signs your dataset names)\npublic key ${publicKey}\nnames look like magnet:?xs=urn:btpk:${publicKey}&s=<name>\n`);
  return 0;
}

export interface PublishFlags {
  key?: string;
  salt?: string;
  dhtBootstrap?: string[];
  config?: string;
  json?: boolean;
}

/**
 * `seedbank name publish <torrent> --key KEYFILE [--salt NAME]`: points the name (key + salt) at
 * this torrent, one sequence number past the version the DHT holds now. The value is BEP 46's
 * `{ ih }` (v1 hash, or the v2 hash truncated) plus `ih2`, the full v2 hash, when there is one.
 */
export async function runNamePublish(torrentFile: string, f: PublishFlags): Promise<number> {
  if (!f.key) throw new UsageError('name publish needs --key KEYFILE (make one with seedbank keygen)');
  const disc = await resolveDiscovery(f);
  try {
    return await publish(torrentFile, f.key, f, disc);
  } finally {
    await disc.release();
  }
}

async function publish(torrentFile: string, keyFile: string, f: PublishFlags, disc: Discovery): Promise<number> {
  if (!disc.dht) throw new UsageError('names live in the DHT, and --no-dht (or the config) turns it off');
  const salt = Buffer.from(f.salt ?? '', 'utf8');
  if (salt.length > MAX_SALT) throw new UsageError(`--salt is ${salt.length} bytes; BEP 44 allows ${MAX_SALT}`);
  const t = await loadTorrentFile(torrentFile);
  const keys = decodeKeyFile(await readFile(keyFile, 'utf8'));
  const ih = t.infoHashV1 ?? t.infoHashV2!.subarray(0, 20);
  const value = nameValue(t);
  const dht = await joinedDht(disc, 'name publish');
  try {
    const current = await dht.getMutable(keys.publicKey, salt);
    const seq = (current?.seq ?? 0) + 1;
    const put = await dht.putMutable(keys, { salt, seq, vBencoded: value, cas: current?.seq });
    if (put.storedAt === 0) throw new UsageError('no DHT node stored the name (are the bootstrap nodes reachable?)');
    const name = formatNameMagnet({ publicKey: keys.publicKey, salt });
    if (f.json) process.stdout.write(`${JSON.stringify({ name, seq, infoHash: ih.toString('hex'), storedAt: put.storedAt })}\n`);
    else process.stdout.write(`${name}\nversion ${seq} -> ${ih.toString('hex')} (stored at ${put.storedAt} DHT nodes)\n`);
    return 0;
  } finally {
    await dht.close();
  }
}

/** BEP 46's `{ ih }` (v1 hash, or the v2 hash truncated) plus our `ih2`, the full v2 hash. */
export function nameValue(t: Metainfo): Buffer {
  const ih = t.infoHashV1 ?? t.infoHashV2!.subarray(0, 20);
  return encodeNameValue({ ih, extra: t.infoHashV2 ? new Map([['ih2', t.infoHashV2]]) : undefined });
}

/** Resolves a name magnet to a magnet of its current version, through the DHT. */
export async function resolveName(uri: string, disc: Pick<Discovery, 'dht' | 'dhtBootstrap' | 'dhtSettings'>): Promise<{ magnet: Magnet; seq: number }> {
  const n = parseNameMagnet(uri);
  if (!disc.dht) throw new UsageError('a name (xs=urn:btpk:) is resolved in the DHT, and --no-dht (or the config) turns it off');
  const dht = await joinedDht(disc, 'a name (xs=urn:btpk:) is resolved in the DHT:');
  try {
    const item = await dht.getMutable(n.publicKey, n.salt.length ? n.salt : undefined);
    if (!item) throw new UsageError('the name was not found in the DHT (no correctly signed value)', 'NAME_NOT_FOUND');
    const v = decodeNameValue(item.vBencoded);
    const ih2 = v.extra.get('ih2');
    const v2 = ih2 instanceof Uint8Array && ih2.length === 32 ? Buffer.from(ih2) : null;
    // A v2-only torrent's ih is its v2 hash truncated; a hybrid's is its v1 hash.
    const v1 = v2 && v.ih.equals(v2.subarray(0, 20)) ? null : v.ih;
    return { magnet: { infoHashV1: v1, infoHashV2: v2, name: null, trackers: [], webSeeds: [], peers: [], select: null }, seq: item.seq };
  } finally {
    await dht.close();
  }
}
