/**
 * Tracker messages, both sides: HTTP announce and scrape (BEP 3, 23 compact peers, 7 `peers6`,
 * 48 scrape) and UDP tracker packets (BEP 15). Pure: bytes and strings in, values out; no sockets.
 *
 * For: building announce/scrape URLs and parsing what trackers answer (the client), and parsing
 * what clients ask and encoding answers (the server, src/discovery/tracker-server.ts).
 * Not for: deciding when to announce (src/discovery/tracker-set.ts) or moving bytes.
 *
 * Replies are decoded leniently, unlike .torrent files (docs/adr/005): a tracker reply names
 * nothing by its hash, and trackers in the wild send unsorted keys and `i03e`. Unknown keys are
 * ignored; a required field that is missing or of the wrong type is a `TrackerError`
 * (`TRACKER_MALFORMED`); an optional one that is wrong is dropped. A `failure reason` is a
 * `TrackerError` with code `TRACKER_FAILURE` and the tracker's words in `failureReason`.
 */
import { SeedbankError } from '../errors.js';
import { type BDict, type BEncodable, type BValue, bencode } from './bencode.js';

export type TrackerErrorCode =
  /** The bytes are not a tracker message (bad bencode, wrong sizes, missing fields). */
  | 'TRACKER_MALFORMED'
  /** The tracker answered with a `failure reason` (or a UDP error packet). */
  | 'TRACKER_FAILURE'
  /** The URL is not one we can announce to. */
  | 'TRACKER_URL'
  /** No answer in time, or the tracker could not be reached. */
  | 'TRACKER_TIMEOUT'
  | 'TRACKER_UNREACHABLE'
  /** HTTP status other than 200 without a bencoded failure, too many redirects, too large a reply. */
  | 'TRACKER_HTTP'
  | 'TRACKER_ABORTED';

export class TrackerError extends SeedbankError {
  override name = 'TrackerError';
  constructor(
    message: string,
    code: TrackerErrorCode = 'TRACKER_MALFORMED',
    /** The tracker's own words, for `TRACKER_FAILURE`. */
    readonly failureReason?: string,
  ) {
    super(code, message);
  }
}

export type TrackerEvent = 'none' | 'completed' | 'started' | 'stopped';

export interface Peer {
  /** An IPv4 or IPv6 literal (compact forms), or whatever a non-compact reply names (may be a DNS name). */
  host: string;
  port: number;
  /** Only in non-compact replies. */
  peerId?: Uint8Array;
}

/** What a client tells a tracker (BEP 3). The same shape is parsed on the server side. */
export interface AnnounceRequest {
  /** 20 bytes: the v1 info hash, or the v2 info hash truncated to 20 bytes. */
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  /** @default 'none' (a regular re-announce) */
  event?: TrackerEvent;
  numwant?: number;
  /** A 32-bit number that identifies this client across IP changes; sent as 8 hex digits over HTTP. */
  key?: number;
  /** An address to be reached at, when it differs from the source address (trackers may ignore it). */
  ip?: string;
  /** BEP 23. @default true */
  compact?: boolean;
  /** Echo of a previous reply's `tracker id`. */
  trackerId?: Uint8Array;
}

export interface AnnounceResponse {
  /** Seconds until the next regular announce. */
  interval: number;
  minInterval?: number;
  /** Seeders. */
  complete?: number;
  /** Leechers. */
  incomplete?: number;
  /** `peers` and `peers6` together. */
  peers: Peer[];
  warning?: string;
  trackerId?: Uint8Array;
  /** BEP 24: the address the tracker saw us come from. */
  externalIp?: string;
}

export interface ScrapeStats {
  /** Seeders. */
  complete: number;
  /** Times the tracker saw a `completed` event. */
  downloaded: number;
  /** Leechers. */
  incomplete: number;
}

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
// IP address literals

/** The 4 or 16 bytes of an IPv4 or IPv6 literal; null for anything else (names, zone ids). */
export function ipToBytes(s: string): Uint8Array | null {
  return s.includes(':') ? ipv6ToBytes(s) : ipv4ToBytes(s);
}

function ipv4ToBytes(s: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1]!;
    // A leading zero reads as octal in some parsers: refuse it rather than guess.
    if ((part.length > 1 && part[0] === '0') || Number(part) > 255) return null;
    out[i] = Number(part);
  }
  return out;
}

function ipv6ToBytes(s: string): Uint8Array | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): string[] | null => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const words: number[] = [];
  const all = [...head, ...tail];
  let v4: Uint8Array | null = null;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    v4 = ipv4ToBytes(last);
    // The dotted quad is the last 32 bits: it cannot come before '::'.
    if (!v4 || (halves.length === 2 && tail.length === 0)) return null;
    all.pop();
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const total = words.length + (v4 ? 2 : 0);
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const out = new Uint8Array(16);
  const put = (i: number, w: number) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  };
  head.forEach((g, i) => put(i, parseInt(g, 16)));
  const tailStart = 8 - (v4 ? 2 : 0) - tail.length;
  tail.forEach((g, i) => put(tailStart + i, parseInt(g, 16)));
  if (v4) out.set(v4, 12);
  return out;
}

/** Text of a 4- or 16-byte address; IPv6 in RFC 5952 form (IPv4-mapped as `::ffff:a.b.c.d`). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new TrackerError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${bytesToIp(b.subarray(12))}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // The longest run of two or more zero words (the first of equals) becomes '::'.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** `::ffff:a.b.c.d` → `a.b.c.d`; any other text unchanged. Dual-stack sockets report IPv4 peers so. */
export function unmapIpv4(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m ? m[1]! : host;
}

// ---------------------------------------------------------------------------------------------
// Compact peers (BEP 23: 6 bytes per IPv4 peer; BEP 7: 18 bytes per IPv6 peer)

export type IpFamily = 4 | 6;

function addrLen(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

/** Peers of `family` as compact bytes; peers of the other family or with a name for a host are skipped. */
export function encodeCompactPeers(peers: readonly Peer[], family: IpFamily): Buffer {
  const len = addrLen(family);
  const chunks: Buffer[] = [];
  for (const p of peers) {
    const ip = ipToBytes(p.host);
    if (!ip || ip.length !== len) continue;
    const c = Buffer.allocUnsafe(len + 2);
    c.set(ip, 0);
    c.writeUInt16BE(p.port, len);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Compact peers; port 0 (nobody can connect there) is dropped. */
export function decodeCompactPeers(b: Uint8Array, family: IpFamily): Peer[] {
  const stride = addrLen(family) + 2;
  if (b.length % stride !== 0) throw new TrackerError(`compact IPv${family} peers: ${b.length} bytes is not a multiple of ${stride}`);
  const out: Peer[] = [];
  for (let i = 0; i < b.length; i += stride) {
    const port = (b[i + stride - 2]! << 8) | b[i + stride - 1]!;
    if (port !== 0) out.push({ host: bytesToIp(b.subarray(i, i + stride - 2)), port });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Lenient bencode for replies

const MAX_REPLY_DEPTH = 32;

/** One bencoded value; trailing whitespace allowed. Throws TrackerError. */
export function decodeReply(b: Uint8Array): BValue {
  const text = Buffer.from(b.buffer, b.byteOffset, b.length);
  let pos = 0;
  const fail = (what: string): never => {
    throw new TrackerError(`tracker reply is not valid bencode: ${what} at byte ${pos}`);
  };
  // Searches are bounded so that hostile input costs linear time.
  const find = (c: number, from: number, max: number) => {
    const i = b.subarray(from, from + max).indexOf(c);
    return i < 0 ? -1 : from + i;
  };
  const str = (): Uint8Array => {
    const colon = find(0x3a, pos, 12);
    if (colon < 0) fail('bad string length');
    const lenText = text.toString('latin1', pos, colon);
    if (!/^\d+$/.test(lenText)) fail('bad string length');
    const end = colon + 1 + Number(lenText);
    if (end > b.length) fail('string runs past the end');
    pos = end;
    return b.subarray(colon + 1, end);
  };
  const value = (depth: number): BValue => {
    if (depth > MAX_REPLY_DEPTH) fail('nesting too deep');
    const c = b[pos];
    if (c === undefined) return fail('unexpected end');
    if (c === 0x69) {
      const end = find(0x65, pos + 1, 22);
      const digits = end < 0 ? '' : text.toString('latin1', pos + 1, end);
      if (!/^-?\d{1,20}$/.test(digits)) fail('bad integer');
      pos = end + 1;
      const n = Number(digits);
      return Number.isSafeInteger(n) ? n : BigInt(digits);
    }
    if (c === 0x6c || c === 0x64) {
      pos++;
      const out: BValue[] | BDict = c === 0x6c ? [] : new Map();
      while (b[pos] !== 0x65) {
        if (pos >= b.length) fail('unexpected end');
        if (Array.isArray(out)) out.push(value(depth + 1));
        else {
          if (b[pos]! < 0x30 || b[pos]! > 0x39) fail('dictionary key is not a string');
          const k = str();
          out.set(Buffer.from(k.buffer, k.byteOffset, k.length).toString('latin1'), value(depth + 1));
        }
      }
      pos++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) return str();
    return fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  };
  const v = value(0);
  while (pos < b.length && (b[pos] === 0x20 || b[pos] === 0x0a || b[pos] === 0x0d || b[pos] === 0x09)) pos++;
  if (pos !== b.length) fail('trailing data');
  return v;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
const utf8 = (b: Uint8Array) => utf8Decoder.decode(b);
/** One line, printable: a tracker's words go into our error messages. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 300); // eslint-disable-line no-control-regex

function replyDict(body: Uint8Array): BDict {
  const v = decodeReply(body);
  if (!(v instanceof Map)) throw new TrackerError('tracker reply is not a dictionary');
  const failure = v.get('failure reason');
  if (failure instanceof Uint8Array) {
    const reason = utf8(failure);
    throw new TrackerError(`tracker refused: ${oneLine(reason)}`, 'TRACKER_FAILURE', reason);
  }
  return v;
}

function count(v: BValue | undefined): number | undefined {
  return typeof v === 'number' && v >= 0 ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTP announce

const EVENTS: readonly TrackerEvent[] = ['none', 'completed', 'started', 'stopped'];

function checkHash(b: Uint8Array | undefined, what: string): Uint8Array {
  if (!b || b.length !== 20) throw new TrackerError(`${what} must be 20 bytes, not ${b?.length ?? 'missing'}`);
  return b;
}

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TrackerError(`${what} must be a non-negative integer, not ${n}`);
}

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

// ---------------------------------------------------------------------------------------------
// UDP tracker packets (BEP 15). Big-endian throughout.

/** The magic connection id of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;
/** Hashes per UDP scrape: what fits in a packet that no path MTU fragments (BEP 15 says about 74). */
export const MAX_UDP_SCRAPE_HASHES = 74;

const ACTION = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
type ActionName = keyof typeof ACTION;
const ACTION_NAMES: readonly ActionName[] = ['connect', 'announce', 'scrape', 'error'];

export type UdpRequest =
  | { action: 'connect'; transactionId: number }
  | { action: 'announce'; connectionId: bigint; transactionId: number; params: AnnounceRequest }
  | { action: 'scrape'; connectionId: bigint; transactionId: number; infoHashes: Uint8Array[] };

export type UdpResponse =
  | { action: 'connect'; transactionId: number; connectionId: bigint }
  | { action: 'announce'; transactionId: number; interval: number; leechers: number; seeders: number; peers: Peer[] }
  | { action: 'scrape'; transactionId: number; files: ScrapeStats[] }
  | { action: 'error'; transactionId: number; message: string };

/** A random 32-bit transaction id. */
export function newTransactionId(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}

const clampCount = (n: bigint) => Number(n < 0n ? 0n : n > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : n);

export function encodeUdpRequest(r: UdpRequest): Buffer {
  if (r.action === 'connect') {
    const b = Buffer.alloc(16);
    b.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
    b.writeUInt32BE(ACTION.connect, 8);
    b.writeUInt32BE(r.transactionId >>> 0, 12);
    return b;
  }
  if (r.action === 'scrape') {
    const b = Buffer.alloc(16 + 20 * r.infoHashes.length);
    b.writeBigUInt64BE(BigInt.asUintN(64, r.connectionId), 0);
    b.writeUInt32BE(ACTION.scrape, 8);
    b.writeUInt32BE(r.transactionId >>> 0, 12);
    r.infoHashes.forEach((h, i) => b.set(checkHash(h, 'info_hash'), 16 + 20 * i));
    return b;
  }
  const p = r.params;
  if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) throw new TrackerError(`port ${p.port} is out of range`);
  const b = Buffer.alloc(98);
  b.writeBigUInt64BE(BigInt.asUintN(64, r.connectionId), 0);
  b.writeUInt32BE(ACTION.announce, 8);
  b.writeUInt32BE(r.transactionId >>> 0, 12);
  b.set(checkHash(p.infoHash, 'info_hash'), 16);
  b.set(checkHash(p.peerId, 'peer_id'), 36);
  for (const k of ['uploaded', 'downloaded', 'left'] as const) checkCount(p[k], k);
  b.writeBigInt64BE(BigInt(p.downloaded), 56);
  b.writeBigInt64BE(BigInt(p.left), 64);
  b.writeBigInt64BE(BigInt(p.uploaded), 72);
  b.writeUInt32BE(EVENTS.indexOf(p.event ?? 'none'), 80);
  const ip = p.ip === undefined ? null : ipToBytes(p.ip);
  if (ip && ip.length === 4) b.set(ip, 84);
  b.writeUInt32BE((p.key ?? 0) >>> 0, 88);
  b.writeInt32BE(p.numwant === undefined ? -1 : Math.min(p.numwant, 0x7fffffff), 92);
  b.writeUInt16BE(p.port, 96);
  return b;
}

function need(b: Uint8Array, n: number, what: string): Buffer {
  if (b.length < n) throw new TrackerError(`UDP ${what} packet of ${b.length} bytes is shorter than ${n}`);
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

/** A client's packet, as a UDP tracker reads it. Bytes past an announce (BEP 41 options) are ignored. */
export function decodeUdpRequest(input: Uint8Array): UdpRequest {
  const b = need(input, 16, 'request');
  const connectionId = b.readBigUInt64BE(0);
  const action = ACTION_NAMES[b.readUInt32BE(8)];
  const transactionId = b.readUInt32BE(12);
  if (action === 'connect') {
    if (connectionId !== UDP_PROTOCOL_ID) throw new TrackerError('UDP connect request without the protocol id');
    return { action, transactionId };
  }
  if (action === 'scrape') {
    if ((b.length - 16) % 20 !== 0 || b.length === 16) throw new TrackerError(`UDP scrape request of ${b.length} bytes is not 16 + 20n`);
    const infoHashes: Uint8Array[] = [];
    for (let i = 16; i < b.length; i += 20) infoHashes.push(b.subarray(i, i + 20));
    return { action, connectionId, transactionId, infoHashes };
  }
  if (action !== 'announce') throw new TrackerError(`UDP request with unknown action ${b.readUInt32BE(8)}`);
  need(b, 98, 'announce');
  const ip = b.readUInt32BE(84);
  const numwant = b.readInt32BE(92);
  const params: AnnounceRequest = {
    infoHash: b.subarray(16, 36),
    peerId: b.subarray(36, 56),
    downloaded: clampCount(b.readBigInt64BE(56)),
    left: clampCount(b.readBigInt64BE(64)),
    uploaded: clampCount(b.readBigInt64BE(72)),
    event: EVENTS[b.readUInt32BE(80)] ?? 'none',
    key: b.readUInt32BE(88),
    port: b.readUInt16BE(96),
    compact: true,
  };
  if (ip !== 0) params.ip = bytesToIp(b.subarray(84, 88));
  if (numwant >= 0) params.numwant = numwant;
  return { action, connectionId, transactionId, params };
}

/** A tracker's packet. `family` is that of the socket it came over: it sets the size of announce peers. */
export function encodeUdpResponse(r: UdpResponse, family: IpFamily = 4): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(ACTION[r.action], 0);
  head.writeUInt32BE(r.transactionId >>> 0, 4);
  switch (r.action) {
    case 'connect': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt.asUintN(64, r.connectionId), 0);
      return Buffer.concat([head, b]);
    }
    case 'announce': {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(r.interval >>> 0, 0);
      b.writeUInt32BE(r.leechers >>> 0, 4);
      b.writeUInt32BE(r.seeders >>> 0, 8);
      return Buffer.concat([head, b, encodeCompactPeers(r.peers, family)]);
    }
    case 'scrape': {
      const b = Buffer.alloc(12 * r.files.length);
      r.files.forEach((f, i) => {
        b.writeUInt32BE(f.complete >>> 0, 12 * i);
        b.writeUInt32BE(f.downloaded >>> 0, 12 * i + 4);
        b.writeUInt32BE(f.incomplete >>> 0, 12 * i + 8);
      });
      return Buffer.concat([head, b]);
    }
    case 'error':
      return Buffer.concat([head, Buffer.from(r.message, 'utf8')]);
  }
}

export function decodeUdpResponse(input: Uint8Array, family: IpFamily = 4): UdpResponse {
  const b = need(input, 8, 'response');
  const action = ACTION_NAMES[b.readUInt32BE(0)];
  const transactionId = b.readUInt32BE(4);
  switch (action) {
    case 'connect':
      return { action, transactionId, connectionId: need(b, 16, 'connect').readBigUInt64BE(8) };
    case 'announce':
      // opentracker answers an info hash outside its whitelist with the 8-byte header alone: a
      // refusal without words.
      if (b.length === 8) return { action: 'error', transactionId, message: 'announce refused without a reason (empty reply)' };
      need(b, 20, 'announce');
      return {
        action,
        transactionId,
        interval: b.readUInt32BE(8),
        leechers: b.readUInt32BE(12),
        seeders: b.readUInt32BE(16),
        peers: decodeCompactPeers(b.subarray(20), family),
      };
    case 'scrape': {
      if ((b.length - 8) % 12 !== 0) throw new TrackerError(`UDP scrape response of ${b.length} bytes is not 8 + 12n`);
      const files: ScrapeStats[] = [];
      for (let i = 8; i < b.length; i += 12) files.push({ complete: b.readUInt32BE(i), downloaded: b.readUInt32BE(i + 4), incomplete: b.readUInt32BE(i + 8) });
      return { action, transactionId, files };
    }
    case 'error':
      return { action, transactionId, message: utf8(b.subarray(8)) };
    default:
      throw new TrackerError(`UDP response with unknown action ${b.readUInt32BE(0)}`);
  }
}
