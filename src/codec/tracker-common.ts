/**
 * Tracker codec, shared part: the error type, the message shapes both transports carry, IP
 * address literals, compact peers (BEP 23, BEP 7 `peers6`), lenient bencode for replies, and the
 * checks the HTTP and UDP codecs both make. Pure: bytes and strings in, values out; no sockets.
 *
 * For: tracker-http.ts and tracker-udp.ts, and (through tracker.ts) the discovery code.
 * Not for: URLs and queries (tracker-http.ts) or packet layouts (tracker-udp.ts).
 *
 * Replies are decoded leniently, unlike .torrent files (docs/adr/005): a tracker reply names
 * nothing by its hash, and trackers in the wild send unsorted keys and `i03e`. Unknown keys are
 * ignored; a required field that is missing or of the wrong type is a `TrackerError`
 * (`TRACKER_MALFORMED`); an optional one that is wrong is dropped. A `failure reason` is a
 * `TrackerError` with code `TRACKER_FAILURE` and the tracker's words in `failureReason`.
 */
import { SeedbankError } from '../errors.js';
import type { BDict, BValue } from './bencode.js';

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
export const utf8 = (b: Uint8Array) => utf8Decoder.decode(b);
/** One line, printable: a tracker's words go into our error messages. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 300); // eslint-disable-line no-control-regex

export function replyDict(body: Uint8Array): BDict {
  const v = decodeReply(body);
  if (!(v instanceof Map)) throw new TrackerError('tracker reply is not a dictionary');
  const failure = v.get('failure reason');
  if (failure instanceof Uint8Array) {
    const reason = utf8(failure);
    throw new TrackerError(`tracker refused: ${oneLine(reason)}`, 'TRACKER_FAILURE', reason);
  }
  return v;
}

export function count(v: BValue | undefined): number | undefined {
  return typeof v === 'number' && v >= 0 ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the HTTP and UDP codecs

export const EVENTS: readonly TrackerEvent[] = ['none', 'completed', 'started', 'stopped'];

export function checkHash(b: Uint8Array | undefined, what: string): Uint8Array {
  if (!b || b.length !== 20) throw new TrackerError(`${what} must be 20 bytes, not ${b?.length ?? 'missing'}`);
  return b;
}

export function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TrackerError(`${what} must be a non-negative integer, not ${n}`);
}
