/**
 * The DHT's state between runs: our node id and the nodes of both routing tables (BEP 32), so that
 * a restart rejoins through the nodes it knew instead of only the bootstrap nodes.
 *
 * For: the file's format (JSON, `{ version: 1, id, id6?, nodes4, nodes6 }`) and reading and
 * writing it safely. Not for: what to do with the nodes (the DHT node restores them as
 * questionable and pings them) or when to save (udp.ts: on close and every 10 minutes).
 *
 * The file is a cache: losing it costs a slower start, nothing more. So a file that is missing,
 * unreadable, not JSON or not this format reads as "no state" (with a warning), never as an error
 * that stops the DHT, and malformed entries are skipped one by one. Writes go to a temporary file
 * that is renamed over the old one, so a crash leaves one whole file or the other; mode 0600,
 * since the node list tells who we talked to.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { idFromHex, idToHex } from '../codec/dht-id.js';
import { parseIp } from '../codec/extensions.js';
import { SeedbankError } from '../errors.js';
import { type NodeContact } from './routing-table.js';

export const DHT_STATE_VERSION = 1;
/** Nodes read per family at most: a full routing table holds 160 buckets of 8. */
export const MAX_SAVED_NODES = 4096;
/** Larger files are not read at all (4,096 nodes of each family take well under 1 MiB). */
const MAX_STATE_BYTES = 4 << 20;

export interface DhtState {
  /** Our id (the IPv4 node's), or null to draw one. */
  id: Uint8Array | null;
  /** The IPv6 node's id when it differs (BEP 42 derives ids per address). */
  id6: Uint8Array | null;
  nodes4: NodeContact[];
  nodes6: NodeContact[];
}

/** A state file that cannot be used. Readers turn it into a warning. */
export class DhtStateError extends SeedbankError {
  override name = 'DhtStateError';
  constructor(message: string) {
    super('DHT_STATE_INVALID', message);
  }
}

/** The state from the file's text. Throws DhtStateError if it is not JSON of this format; skips malformed nodes. */
export function parseDhtState(text: string): DhtState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DhtStateError(`DHT state is not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(json) || json['version'] !== DHT_STATE_VERSION) throw new DhtStateError(`DHT state is not version ${DHT_STATE_VERSION} of the format`);
  return { id: idFromHex(json['id']), id6: idFromHex(json['id6']), nodes4: contacts(json['nodes4'], 4), nodes6: contacts(json['nodes6'], 6) };
}

export function formatDhtState(s: DhtState): string {
  const list = (ns: readonly NodeContact[]) => ns.slice(0, MAX_SAVED_NODES).map((n) => ({ id: idToHex(n.id), host: n.host, port: n.port }));
  const out: Record<string, unknown> = { version: DHT_STATE_VERSION };
  if (s.id) out['id'] = idToHex(s.id);
  if (s.id6 && !(s.id && idToHex(s.id) === idToHex(s.id6))) out['id6'] = idToHex(s.id6);
  out['nodes4'] = list(s.nodes4);
  out['nodes6'] = list(s.nodes6);
  return `${JSON.stringify(out)}\n`;
}

/** The state in `file`, or null (missing, unreadable or invalid: `onWarning` hears why, except for a missing file). */
export async function readDhtState(file: string, onWarning?: (message: string) => void): Promise<DhtState | null> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_STATE_BYTES) throw new DhtStateError(`${bytes.length} bytes is too large for a DHT state file`);
    text = bytes.toString('utf8');
    return parseDhtState(text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onWarning?.(`ignoring the DHT state in ${file}: ${(e as Error).message}`);
    return null;
  }
}

/** Replaces `file` with the state atomically (temporary file, fsync, rename), creating its folder. */
export async function writeDhtState(file: string, s: DhtState): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const h = await open(tmp, 'w', 0o600);
    try {
      await h.writeFile(formatDhtState(s));
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

function contacts(v: unknown, family: 4 | 6): NodeContact[] {
  if (!Array.isArray(v)) return [];
  const out: NodeContact[] = [];
  for (const item of v.slice(0, MAX_SAVED_NODES)) {
    if (!isRecord(item)) continue;
    const id = idFromHex(item['id']);
    const host = item['host'];
    const port = item['port'];
    const ip = typeof host === 'string' ? parseIp(host) : null;
    if (id === null || ip === null || ip.length !== (family === 4 ? 4 : 16) || !Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) continue;
    out.push({ id, host: host as string, port: port as number });
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
