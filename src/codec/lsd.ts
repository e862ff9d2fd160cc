/**
 * BEP 14 local service discovery announces: the HTTP-over-UDP-multicast `BT-SEARCH` packet that
 * tells neighbours on the link "I am in these swarms, on this TCP port".
 *
 * For: bytes to values and back. Not for: sockets, multicast groups on interfaces, timing or rate
 * limits (src/discovery/lsd.ts does those). Pure: no sockets, no files.
 *
 * The parser is tolerant in form and strict in content. Form: header names in any case, `\n` or
 * `\r\n` line ends, space around values, unknown headers ignored (BEP 14 asks for the last, as
 * HTTP does). Content: the request line must be exactly `BT-SEARCH * HTTP/1.1`, the port a number
 * 1-65535, every info hash exactly 40 hex digits; anything else is an LsdError, because a packet
 * that is wrong in content came from a broken or hostile sender, and a half-understood announce
 * would send us dialling addresses that were never meant.
 */
import { SeedbankError } from '../errors.js';

/** The UDP port of both groups. */
export const LSD_PORT = 6771;
/** BEP 14's IPv4 group (organisation-local scope). */
export const LSD_GROUP_V4 = '239.192.152.143';
/** BEP 14's IPv6 group (site-local scope). */
export const LSD_GROUP_V6 = 'ff15::efc0:988f';
/** BEP 14: a packet with several hashes should stay under this, to avoid IP fragmentation. */
export const MAX_LSD_PACKET = 1400;
/**
 * Hashes kept from one packet, and put in one packet we send. 20 lines of 52 bytes plus the
 * other headers (at most ~200 bytes with a 64-byte cookie) stay under MAX_LSD_PACKET.
 */
export const MAX_LSD_HASHES = 20;
/** Longest cookie we send or keep; a longer one is truncated on read, refused on write. */
export const MAX_LSD_COOKIE = 64;

const REQUEST_LINE = 'BT-SEARCH * HTTP/1.1';

export type LsdErrorCode =
  /** Longer than MAX_LSD_PACKET. */
  | 'LSD_TOO_LONG'
  /** The first line is not `BT-SEARCH * HTTP/1.1`. */
  | 'LSD_REQUEST_LINE'
  /** A header line without a colon, or a name that is not an HTTP token. */
  | 'LSD_HEADER'
  /** No Port header, two of them, or one that is not 1-65535. */
  | 'LSD_PORT'
  /** No Infohash header, or one that is not 40 hex digits. */
  | 'LSD_INFOHASH';

/** A packet that is not a valid BEP 14 announce. One-line message; `code` to branch on. */
export class LsdError extends SeedbankError {
  override name = 'LsdError';
  declare readonly code: LsdErrorCode;
  constructor(code: LsdErrorCode, message: string) {
    super(code, message);
  }
}

export interface LsdAnnounce {
  /** The sender's TCP listen port. */
  port: number;
  /** 20-byte info hashes (v1, or v2 truncated), without repeats, at most MAX_LSD_HASHES. */
  infoHashes: Buffer[];
  /** An opaque token the sender puts in every announce, so that it can recognise its own. */
  cookie?: string;
}

/**
 * Encodes one announce. `family` picks the Host header (the group the packet is sent to). Throws
 * RangeError for a port outside 1-65535, a hash that is not 20 bytes, no hash or more than
 * MAX_LSD_HASHES, or a cookie that is not 1-64 visible ASCII characters.
 */
export function encodeLsdAnnounce(a: LsdAnnounce, family: 4 | 6 = 4): Buffer {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new RangeError(`port ${a.port} is not 1-65535`);
  if (a.infoHashes.length === 0 || a.infoHashes.length > MAX_LSD_HASHES) throw new RangeError(`an announce carries 1-${MAX_LSD_HASHES} info hashes, not ${a.infoHashes.length}`);
  if (a.cookie !== undefined && !isCookie(a.cookie)) throw new RangeError(`cookie ${JSON.stringify(a.cookie)} is not 1-${MAX_LSD_COOKIE} visible ASCII characters`);
  const host = family === 4 ? `${LSD_GROUP_V4}:${LSD_PORT}` : `[${LSD_GROUP_V6}]:${LSD_PORT}`;
  const lines = [REQUEST_LINE, `Host: ${host}`, `Port: ${a.port}`];
  for (const h of a.infoHashes) {
    if (h.length !== 20) throw new RangeError(`an info hash is 20 bytes, not ${h.length}`);
    lines.push(`Infohash: ${Buffer.from(h.buffer, h.byteOffset, h.length).toString('hex')}`);
  }
  if (a.cookie !== undefined) lines.push(`cookie: ${a.cookie}`);
  // BEP 14 ends the packet with an empty line and then one more CRLF pair.
  const out = Buffer.from(`${lines.join('\r\n')}\r\n\r\n\r\n`, 'latin1');
  if (out.length > MAX_LSD_PACKET) throw new RangeError(`announce of ${out.length} bytes; the most is ${MAX_LSD_PACKET}`);
  return out;
}

/**
 * Splits `infoHashes` into as few announces as the limits allow (MAX_LSD_HASHES each). An empty
 * list gives no packet.
 */
export function encodeLsdAnnounces(port: number, infoHashes: readonly Buffer[], cookie?: string, family: 4 | 6 = 4): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < infoHashes.length; i += MAX_LSD_HASHES) {
    out.push(encodeLsdAnnounce({ port, infoHashes: infoHashes.slice(i, i + MAX_LSD_HASHES), ...(cookie === undefined ? {} : { cookie }) }, family));
  }
  return out;
}

/**
 * Decodes an announce. Throws LsdError (and nothing else) for a packet over MAX_LSD_PACKET bytes, a
 * wrong request line, a malformed header line, a missing, repeated or out-of-range Port, or a
 * missing or malformed Infohash. Repeated hashes count once; after MAX_LSD_HASHES more are ignored.
 * The Host header is not checked: senders disagree on it, and the group the packet came in on
 * says the same thing. A cookie that is empty after trimming counts as none.
 */
export function decodeLsdAnnounce(packet: Uint8Array): LsdAnnounce {
  if (packet.length > MAX_LSD_PACKET) throw new LsdError('LSD_TOO_LONG', `LSD packet of ${packet.length} bytes; the most is ${MAX_LSD_PACKET}`);
  // latin1 maps each byte to one char, so nothing here can fail on bytes that are not UTF-8.
  const text = Buffer.from(packet.buffer, packet.byteOffset, packet.length).toString('latin1');
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[0] !== REQUEST_LINE) throw new LsdError('LSD_REQUEST_LINE', `LSD packet does not start with ${JSON.stringify(REQUEST_LINE)}`);
  let port: number | null = null;
  const hashes = new Map<string, Buffer>();
  let cookie: string | undefined;
  let sawHash = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // The empty line ends the headers; what follows (BEP 14's trailing CRLF, a body) is not ours.
    if (line === '') break;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new LsdError('LSD_HEADER', `LSD header line ${i} is not "Name: value"`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    switch (name.toLowerCase()) {
      case 'port': {
        if (port !== null) throw new LsdError('LSD_PORT', 'LSD packet with two Port headers');
        const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
        if (!(n >= 1 && n <= 65535)) throw new LsdError('LSD_PORT', `LSD Port ${JSON.stringify(value.slice(0, 20))} is not 1-65535`);
        port = n;
        break;
      }
      case 'infohash': {
        if (!/^[0-9a-fA-F]{40}$/.test(value)) throw new LsdError('LSD_INFOHASH', `LSD Infohash ${JSON.stringify(value.slice(0, 50))} is not 40 hex digits`);
        sawHash = true;
        const hex = value.toLowerCase();
        if (hashes.size < MAX_LSD_HASHES && !hashes.has(hex)) hashes.set(hex, Buffer.from(hex, 'hex'));
        break;
      }
      case 'cookie':
        // The first one counts: a second cookie cannot make someone else's packet look like ours.
        if (cookie === undefined && value !== '') cookie = value.slice(0, MAX_LSD_COOKIE);
        break;
      default:
        break;
    }
  }
  if (port === null) throw new LsdError('LSD_PORT', 'LSD packet without a Port header');
  if (!sawHash) throw new LsdError('LSD_INFOHASH', 'LSD packet without an Infohash header');
  return { port, infoHashes: [...hashes.values()], ...(cookie === undefined ? {} : { cookie }) };
}

function isCookie(s: string): boolean {
  return s.length >= 1 && s.length <= MAX_LSD_COOKIE && /^[\x21-\x7e]+$/.test(s);
}
