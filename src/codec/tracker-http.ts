/**
 * Tracker codec, HTTP part: announce and scrape (BEP 3, 23 compact peers, 7 `peers6`, 48 scrape)
 * as URLs, query strings and bencoded replies. Pure: bytes and strings in, values out; no sockets.
 *
 * For: building announce/scrape URLs and parsing what trackers answer (the client,
 * src/discovery/http-tracker.ts), and parsing what clients ask and encoding answers (the server,
 * src/discovery/tracker-server.ts). Import it through tracker.ts.
 * Not for: UDP packets (tracker-udp.ts); replies are decoded leniently (see tracker-common.ts).
 */
import { type BEncodable, bencode } from './bencode.js';
import {
  type AnnounceRequest,
  type AnnounceResponse,
  type Peer,
  type ScrapeStats,
  type TrackerEvent,
  EVENTS,
  TrackerError,
  bytesToIp,
  checkCount,
  checkHash,
  count,
  decodeCompactPeers,
  encodeCompactPeers,
  ipToBytes,
  replyDict,
  utf8,
} from './tracker-common.js';

// ---------------------------------------------------------------------------------------------
// Percent-encoding of raw bytes (info_hash and peer_id are binary, not text)

const HEX = '0123456789ABCDEF';

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

/** Every byte that is not unreserved (RFC 3986) becomes %XX. */
export function percentEncodeBytes(b: Uint8Array): string {
  let out = '';
  for (const c of b) out += isUnreserved(c) ? String.fromCharCode(c) : `%${HEX[c >> 4]}${HEX[c & 15]}`;
  return out;
}

/** The raw bytes of one query component: %XX decoded, `+` as a space, other text as UTF-8. */
export function percentDecodeBytes(s: string): Uint8Array {
  const utf8 = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(utf8.length);
  let n = 0;
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i]!;
    if (c === 0x25) {
      const hi = hexValue(utf8[i + 1]);
      const lo = hexValue(utf8[i + 2]);
      if (hi < 0 || lo < 0) throw new TrackerError(`bad percent-encoding in ${JSON.stringify(s.slice(0, 80))}`);
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else {
      out[n++] = c === 0x2b ? 0x20 : c;
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Most parameters a query may carry; a scrape with this many info hashes is already far too many. */
export const MAX_QUERY_PARAMS = 256;

/** A query string (without `?`) as name → values, names as binary strings. */
export function parseQuery(query: string): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  if (query === '') return out;
  const parts = query.split('&');
  if (parts.length > MAX_QUERY_PARAMS) throw new TrackerError(`query has more than ${MAX_QUERY_PARAMS} parameters`);
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = Buffer.from(percentDecodeBytes(eq < 0 ? part : part.slice(0, eq))).toString('latin1');
    const value = percentDecodeBytes(eq < 0 ? '' : part.slice(eq + 1));
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

function appendQuery(url: string, query: string): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${query}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP announce

/** The announce URL with the request in its query (appended to any query already there, e.g. a passkey). */
export function buildAnnounceUrl(announceUrl: string, r: AnnounceRequest): string {
  checkHash(r.infoHash, 'info_hash');
  checkHash(r.peerId, 'peer_id');
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65535) throw new TrackerError(`port ${r.port} is out of range`);
  for (const k of ['uploaded', 'downloaded', 'left'] as const) checkCount(r[k], k);
  const q = [
    `info_hash=${percentEncodeBytes(r.infoHash)}`,
    `peer_id=${percentEncodeBytes(r.peerId)}`,
    `port=${r.port}`,
    `uploaded=${r.uploaded}`,
    `downloaded=${r.downloaded}`,
    `left=${r.left}`,
    `compact=${r.compact === false ? 0 : 1}`,
  ];
  if (r.event && r.event !== 'none') q.push(`event=${r.event}`);
  if (r.numwant !== undefined) q.push(`numwant=${Math.max(0, Math.floor(r.numwant))}`);
  if (r.key !== undefined) q.push(`key=${(r.key >>> 0).toString(16).toUpperCase().padStart(8, '0')}`);
  if (r.ip !== undefined) q.push(`ip=${percentEncodeBytes(Buffer.from(r.ip, 'utf8'))}`);
  if (r.trackerId !== undefined) q.push(`trackerid=${percentEncodeBytes(r.trackerId)}`);
  return appendQuery(announceUrl, q.join('&'));
}

function decimal(b: Uint8Array | undefined, what: string, fallback?: number): number {
  if (b === undefined) {
    if (fallback !== undefined) return fallback;
    throw new TrackerError(`${what} is missing`);
  }
  const s = Buffer.from(b).toString('latin1');
  if (!/^\d{1,20}$/.test(s)) throw new TrackerError(`${what} must be a non-negative integer, not ${JSON.stringify(s.slice(0, 40))}`);
  return Math.min(Number(s), Number.MAX_SAFE_INTEGER);
}

/** A client's announce query (the part after `?`), as a tracker reads it. */
export function parseAnnounceQuery(query: string): AnnounceRequest {
  const q = parseQuery(query);
  const one = (k: string) => q.get(k)?.[0];
  const port = decimal(one('port'), 'port');
  if (port > 65535) throw new TrackerError(`port ${port} is out of range`);
  const r: AnnounceRequest = {
    infoHash: checkHash(one('info_hash'), 'info_hash'),
    peerId: checkHash(one('peer_id'), 'peer_id'),
    port,
    uploaded: decimal(one('uploaded'), 'uploaded', 0),
    downloaded: decimal(one('downloaded'), 'downloaded', 0),
    left: decimal(one('left'), 'left'),
    compact: Buffer.from(one('compact') ?? []).toString('latin1') !== '0',
  };
  const ev = Buffer.from(one('event') ?? []).toString('latin1');
  // 'paused' (BEP 21), 'empty' and anything unknown count as a regular announce.
  r.event = EVENTS.includes(ev as TrackerEvent) ? (ev as TrackerEvent) : 'none';
  const numwant = Buffer.from(one('numwant') ?? []).toString('latin1');
  if (/^\d{1,9}$/.test(numwant)) r.numwant = Number(numwant);
  const key = Buffer.from(one('key') ?? []).toString('latin1');
  if (/^[0-9A-Fa-f]{1,8}$/.test(key)) r.key = parseInt(key, 16);
  const ip = one('ip');
  if (ip !== undefined && ip.length > 0) r.ip = utf8(ip);
  const tid = one('trackerid');
  if (tid !== undefined) r.trackerId = tid;
  return r;
}

/** A tracker's answer to an announce. Throws TrackerError (`TRACKER_FAILURE` for a `failure reason`). */
export function parseAnnounceResponse(body: Uint8Array): AnnounceResponse {
  const d = replyDict(body);
  const interval = count(d.get('interval'));
  if (interval === undefined) throw new TrackerError('tracker reply has no valid interval');
  const r: AnnounceResponse = { interval, peers: [] };
  const minInterval = count(d.get('min interval'));
  if (minInterval !== undefined) r.minInterval = minInterval;
  const complete = count(d.get('complete'));
  if (complete !== undefined) r.complete = complete;
  const incomplete = count(d.get('incomplete'));
  if (incomplete !== undefined) r.incomplete = incomplete;
  const warning = d.get('warning message');
  if (warning instanceof Uint8Array) r.warning = utf8(warning);
  const tid = d.get('tracker id');
  if (tid instanceof Uint8Array) r.trackerId = tid;
  const ext = d.get('external ip');
  if (ext instanceof Uint8Array && (ext.length === 4 || ext.length === 16)) r.externalIp = bytesToIp(ext);
  const peers = d.get('peers');
  if (peers instanceof Uint8Array) r.peers.push(...decodeCompactPeers(peers, 4));
  else if (Array.isArray(peers)) {
    for (const p of peers) {
      if (!(p instanceof Map)) continue;
      const ip = p.get('ip');
      const port = p.get('port');
      if (!(ip instanceof Uint8Array) || typeof port !== 'number' || port < 1 || port > 65535) continue;
      const peer: Peer = { host: utf8(ip), port };
      const id = p.get('peer id');
      if (id instanceof Uint8Array && id.length === 20) peer.peerId = id;
      r.peers.push(peer);
    }
  } else if (peers !== undefined) throw new TrackerError('tracker reply: peers is neither a string nor a list');
  const peers6 = d.get('peers6');
  if (peers6 instanceof Uint8Array) r.peers.push(...decodeCompactPeers(peers6, 6));
  return r;
}

/**
 * A tracker's answer. Compact: IPv4 peers in `peers`, IPv6 peers in `peers6`, names dropped.
 * Not compact: one list of dictionaries (with `peer id` unless `noPeerId`).
 */
export function encodeAnnounceResponse(r: AnnounceResponse, opts: { compact: boolean; noPeerId?: boolean }): Buffer {
  const d = new Map<string, BEncodable | undefined>([
    ['interval', r.interval],
    ['min interval', r.minInterval],
    ['complete', r.complete],
    ['incomplete', r.incomplete],
    ['warning message', r.warning],
    ['tracker id', r.trackerId],
    ['external ip', r.externalIp === undefined ? undefined : (ipToBytes(r.externalIp) ?? undefined)],
  ]);
  if (opts.compact) {
    d.set('peers', encodeCompactPeers(r.peers, 4));
    const six = encodeCompactPeers(r.peers, 6);
    if (six.length > 0) d.set('peers6', six);
  } else {
    d.set(
      'peers',
      r.peers.map((p) => new Map<string, BEncodable | undefined>([['ip', p.host], ['port', p.port], ['peer id', opts.noPeerId ? undefined : p.peerId]])),
    );
  }
  return bencode(d);
}

/** `d14:failure reason...e`: how an HTTP tracker says no. */
export function encodeFailure(reason: string): Buffer {
  return bencode(new Map([['failure reason', reason]]));
}

// ---------------------------------------------------------------------------------------------
// HTTP scrape (BEP 48)

/**
 * BEP 48: the scrape URL replaces `announce` at the start of the last path segment with `scrape`
 * (`/x/announce.php?pk=1` → `/x/scrape.php?pk=1`). Null when the last segment does not start with
 * `announce` (the tracker has no scrape). UDP trackers scrape at the announce URL (BEP 15).
 */
export function scrapeUrlFor(announceUrl: string): string | null {
  let u: URL;
  try {
    u = new URL(announceUrl);
  } catch {
    return null;
  }
  if (u.protocol === 'udp:') return announceUrl;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  const slash = u.pathname.lastIndexOf('/');
  const last = u.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return null;
  u.pathname = `${u.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
  u.hash = '';
  return u.toString();
}

export function buildScrapeUrl(scrapeUrl: string, infoHashes: readonly Uint8Array[]): string {
  if (infoHashes.length === 0) throw new TrackerError('a scrape needs at least one info hash');
  return appendQuery(scrapeUrl, infoHashes.map((h) => `info_hash=${percentEncodeBytes(checkHash(h, 'info_hash'))}`).join('&'));
}

/** The info hashes of a scrape query (maybe none: a "full scrape"). */
export function parseScrapeQuery(query: string): Uint8Array[] {
  return (parseQuery(query).get('info_hash') ?? []).map((h) => checkHash(h, 'info_hash'));
}

export function encodeScrapeResponse(files: ReadonlyArray<{ infoHash: Uint8Array } & ScrapeStats>): Buffer {
  const d = new Map<string, BEncodable>();
  for (const f of files) {
    d.set(Buffer.from(f.infoHash).toString('latin1'), new Map<string, BEncodable>([['complete', f.complete], ['downloaded', f.downloaded], ['incomplete', f.incomplete]]));
  }
  return bencode(new Map([['files', d]]));
}

/** Scrape results by info hash (40 lowercase hex digits). Entries whose key is not 20 bytes are skipped. */
export function parseScrapeResponse(body: Uint8Array): Map<string, ScrapeStats> {
  const files = replyDict(body).get('files');
  if (!(files instanceof Map)) throw new TrackerError('scrape reply has no files dictionary');
  const out = new Map<string, ScrapeStats>();
  for (const [k, v] of files) {
    if (k.length !== 20 || !(v instanceof Map)) continue;
    out.set(Buffer.from(k, 'latin1').toString('hex'), {
      complete: count(v.get('complete')) ?? 0,
      downloaded: count(v.get('downloaded')) ?? 0,
      incomplete: count(v.get('incomplete')) ?? 0,
    });
  }
  return out;
}
