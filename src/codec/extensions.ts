/**
 * Payloads of BEP 10 extension messages: the extension handshake (BEP 10, with BEP 9's
 * `metadata_size`), ut_metadata (BEP 9) and ut_pex (BEP 11); and the compact peer format (BEP 23,
 * BEP 7) that PEX shares with trackers, with the IP text conversions it needs.
 *
 * For: bytes to values and back. Not for: choosing extension ids, deciding whether a metadata piece
 * fits the torrent, or trusting PEX addresses. The framing ('extended' message, id byte) is wire.ts.
 * Pure: no sockets (IP text is parsed and formatted here, without node:net).
 *
 * Decoders are tolerant where the BEPs ask for it (unknown keys and wrongly typed optional keys
 * are ignored), and throw WireError when a payload is not a bencoded dictionary at all.
 */
import { type BDict, type BEncodable, type BValue, BencodeError, bdecode, bencode, keyToUtf8, utf8Key } from './bencode.js';
import { WireError } from './wire.js';

// ---------------------------------------------------------------------------------------------
// BEP 10 extension handshake
// ---------------------------------------------------------------------------------------------

export interface ExtHandshake {
  /** Extension name -> the id the sender wants to receive it as (1-255; 0 turns it off). */
  m: Record<string, number>;
  /** Client name and version (UTF-8). */
  v?: string;
  /** The sender's TCP listen port. */
  p?: number;
  /** How many outstanding requests the sender accepts. */
  reqq?: number;
  /** BEP 9 `metadata_size`: the length of the info dictionary in bytes. */
  metadataSize?: number;
  /** The receiver's address as the sender sees it: 4 or 16 bytes. */
  yourip?: Uint8Array;
  /** The sender's IPv4 address: 4 bytes. */
  ipv4?: Uint8Array;
  /** The sender's IPv6 address: 16 bytes. */
  ipv6?: Uint8Array;
}

/** Encodes an extension handshake. Throws RangeError for out-of-range fields. */
export function encodeExtHandshake(h: ExtHandshake): Buffer {
  const m = new Map<string, BEncodable>();
  for (const [name, id] of Object.entries(h.m)) {
    if (!isInt(id, 0, 255)) throw new RangeError(`extension ${name}: id ${id} is not 0-255`);
    m.set(utf8Key(name), id);
  }
  if (h.p !== undefined && !isInt(h.p, 0, 0xffff)) throw new RangeError(`p ${h.p} is not a port`);
  if (h.reqq !== undefined && !isInt(h.reqq)) throw new RangeError(`reqq ${h.reqq} is not a non-negative integer`);
  if (h.metadataSize !== undefined && !isInt(h.metadataSize)) throw new RangeError(`metadataSize ${h.metadataSize} is not a non-negative integer`);
  if (h.yourip !== undefined && h.yourip.length !== 4 && h.yourip.length !== 16) throw new RangeError('yourip must be 4 or 16 bytes');
  if (h.ipv4 !== undefined && h.ipv4.length !== 4) throw new RangeError('ipv4 must be 4 bytes');
  if (h.ipv6 !== undefined && h.ipv6.length !== 16) throw new RangeError('ipv6 must be 16 bytes');
  return bencode(
    new Map<string, BEncodable | undefined>([
      ['m', m],
      ['v', h.v],
      ['p', h.p],
      ['reqq', h.reqq],
      ['metadata_size', h.metadataSize],
      ['yourip', h.yourip],
      ['ipv4', h.ipv4],
      ['ipv6', h.ipv6],
    ]),
  );
}

/**
 * Decodes an extension handshake. BEP 10 makes every key optional and asks receivers to ignore
 * what they do not understand, so unknown keys, optional keys of the wrong type or size, and `m`
 * entries that are not ids 0-255 are dropped. Byte fields are copies (plain Uint8Arrays).
 */
export function decodeExtHandshake(payload: Uint8Array): ExtHandshake {
  const d = decodeDict(payload, 'extension handshake');
  const out: ExtHandshake = { m: {} };
  const m = d.get('m');
  if (m instanceof Map) {
    for (const [key, id] of m) {
      // defineProperty: a key named "__proto__" becomes an ordinary entry, not a prototype.
      if (isInt(id, 0, 255)) Object.defineProperty(out.m, keyToUtf8(key), { value: id, enumerable: true, writable: true, configurable: true });
    }
  }
  const v = d.get('v');
  if (v instanceof Uint8Array) out.v = Buffer.from(v.buffer, v.byteOffset, v.length).toString('utf8');
  const p = d.get('p');
  if (isInt(p, 0, 0xffff)) out.p = p;
  const reqq = d.get('reqq');
  if (isInt(reqq)) out.reqq = reqq;
  const size = d.get('metadata_size');
  if (isInt(size)) out.metadataSize = size;
  const yourip = d.get('yourip');
  if (yourip instanceof Uint8Array && (yourip.length === 4 || yourip.length === 16)) out.yourip = new Uint8Array(yourip);
  const ipv4 = d.get('ipv4');
  if (ipv4 instanceof Uint8Array && ipv4.length === 4) out.ipv4 = new Uint8Array(ipv4);
  const ipv6 = d.get('ipv6');
  if (ipv6 instanceof Uint8Array && ipv6.length === 16) out.ipv6 = new Uint8Array(ipv6);
  return out;
}

// ---------------------------------------------------------------------------------------------
// BEP 9 ut_metadata
// ---------------------------------------------------------------------------------------------

/** Metadata (the info dictionary) travels in pieces of 16 KiB; only the last may be shorter. */
export const METADATA_PIECE_SIZE = 16384;
export const METADATA_REQUEST = 0;
export const METADATA_DATA = 1;
export const METADATA_REJECT = 2;

export interface MetadataMessage {
  /** 0 request, 1 data, 2 reject. Other values are later message types, which BEP 9 says to ignore. */
  msgType: number;
  piece: number;
  /** The whole metadata's length; sent with data messages. */
  totalSize?: number;
  /**
   * The metadata piece appended after the dictionary. Present on every data message (possibly
   * empty) and on any other message that has bytes after its dictionary. A view of the payload.
   */
  data?: Uint8Array;
}

/** Encodes a ut_metadata message. A data message (msgType 1) needs `totalSize` and `data`. */
export function encodeMetadataMessage(msg: MetadataMessage): Buffer {
  if (!isInt(msg.msgType)) throw new RangeError(`msgType ${msg.msgType} is not a non-negative integer`);
  if (!isInt(msg.piece)) throw new RangeError(`piece ${msg.piece} is not a non-negative integer`);
  if (msg.totalSize !== undefined && !isInt(msg.totalSize)) throw new RangeError(`totalSize ${msg.totalSize} is not a non-negative integer`);
  if (msg.msgType === METADATA_DATA && (msg.totalSize === undefined || msg.data === undefined)) {
    throw new RangeError('a metadata data message needs totalSize and data');
  }
  if (msg.data !== undefined && msg.data.length > METADATA_PIECE_SIZE) {
    throw new RangeError(`metadata piece of ${msg.data.length} bytes; the most is ${METADATA_PIECE_SIZE}`);
  }
  const dict = bencode(
    new Map<string, BEncodable | undefined>([
      ['msg_type', msg.msgType],
      ['piece', msg.piece],
      ['total_size', msg.totalSize],
    ]),
  );
  if (msg.data === undefined) return dict;
  const out = Buffer.allocUnsafe(dict.length + msg.data.length);
  dict.copy(out, 0);
  out.set(msg.data, dict.length);
  return out;
}

/**
 * Decodes a ut_metadata message: a bencoded dictionary, then (for data messages) the piece's bytes.
 * Throws WireError if the dictionary is malformed, lacks an integer msg_type or piece, or carries
 * more than 16 KiB of data.
 */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  let end: number;
  try {
    end = bencodedValueEnd(payload);
  } catch (e) {
    throw asWireError(e, 'ut_metadata');
  }
  const d = decodeDict(payload.subarray(0, end), 'ut_metadata');
  const msgType = d.get('msg_type');
  const piece = d.get('piece');
  if (!isInt(msgType) || !isInt(piece)) throw new WireError('WIRE_EXTENSION', 'ut_metadata message without an integer msg_type and piece');
  const out: MetadataMessage = { msgType, piece };
  const totalSize = d.get('total_size');
  if (isInt(totalSize)) out.totalSize = totalSize;
  if (msgType === METADATA_DATA || end < payload.length) {
    const data = new Uint8Array(payload.buffer, payload.byteOffset + end, payload.length - end);
    if (data.length > METADATA_PIECE_SIZE) {
      throw new WireError('WIRE_EXTENSION', `ut_metadata piece of ${data.length} bytes; the most is ${METADATA_PIECE_SIZE}`);
    }
    out.data = data;
  }
  return out;
}

/**
 * The offset just past the one bencoded value that starts at `buf[start]`. A shallow scan, without
 * recursion, that checks only what it needs to find the end; decode the span with `bdecode` to
 * validate it. Throws BencodeError if the value is truncated or does not start like bencode.
 */
export function bencodedValueEnd(buf: Uint8Array, start = 0): number {
  let pos = start;
  let depth = 0;
  do {
    if (pos >= buf.length) throw new BencodeError('BENCODE_TRUNCATED', pos, 'unexpected end of input');
    const c = buf[pos]!;
    if (c === 0x69 /* i */) {
      const e = buf.indexOf(0x65 /* e */, pos + 1);
      if (e < 0) throw new BencodeError('BENCODE_TRUNCATED', pos, 'integer without an end');
      pos = e + 1;
    } else if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      depth++;
      pos++;
    } else if (c === 0x65 /* e */) {
      if (depth === 0) throw new BencodeError('BENCODE_SYNTAX', pos, "unexpected 'e'");
      depth--;
      pos++;
    } else if (c >= 0x30 && c <= 0x39) {
      let len = 0;
      const digitsAt = pos;
      while (pos < buf.length && buf[pos]! >= 0x30 && buf[pos]! <= 0x39) {
        len = len * 10 + (buf[pos]! - 0x30);
        if (pos - digitsAt > 15) throw new BencodeError('BENCODE_LIMIT', digitsAt, 'string length too long');
        pos++;
      }
      if (pos >= buf.length) throw new BencodeError('BENCODE_TRUNCATED', pos, 'unexpected end of input');
      if (buf[pos] !== 0x3a /* : */) throw new BencodeError('BENCODE_SYNTAX', pos, 'invalid digit in string length');
      pos += 1 + len;
      if (pos > buf.length) throw new BencodeError('BENCODE_TRUNCATED', digitsAt, `string of ${len} bytes runs past the end of input`);
    } else {
      throw new BencodeError('BENCODE_SYNTAX', pos, `unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
    }
  } while (depth > 0);
  return pos;
}

// ---------------------------------------------------------------------------------------------
// BEP 11 ut_pex
// ---------------------------------------------------------------------------------------------

export interface PeerAddress {
  /** Dotted IPv4 ("10.0.0.1") or IPv6 text as Node prints socket addresses ("2001:db8::1", "::ffff:10.0.0.1"). */
  host: string;
  port: number;
  /** BEP 11 flags (PEX_*), on added peers only. */
  flags?: number;
}

/** BEP 11 flags: what the sender knows of an added peer. */
export const PEX_PREFERS_ENCRYPTION = 0x01;
export const PEX_SEED = 0x02;
export const PEX_UTP = 0x04;
export const PEX_HOLEPUNCH = 0x08;
export const PEX_REACHABLE = 0x10;

export interface PexMessage {
  added: PeerAddress[];
  dropped: PeerAddress[];
}

/**
 * Encodes a ut_pex message, sorting peers into the IPv4 and IPv6 fields by their host. Every field
 * is written, empty ones too (BEP 11 wants at least one of them). A missing flag is written as 0;
 * flags of dropped peers are not sent.
 */
export function encodePex(msg: PexMessage): Buffer {
  const added4 = msg.added.filter((p) => !isV6(p.host));
  const added6 = msg.added.filter((p) => isV6(p.host));
  const flags = (peers: PeerAddress[]) =>
    Uint8Array.from(peers, (p) => {
      const f = p.flags ?? 0;
      if (!isInt(f, 0, 255)) throw new RangeError(`PEX flags ${f} is not a byte`);
      return f;
    });
  return bencode(
    new Map<string, BEncodable>([
      ['added', encodeCompactPeers(added4, 4)],
      ['added.f', flags(added4)],
      ['added6', encodeCompactPeers(added6, 6)],
      ['added6.f', flags(added6)],
      ['dropped', encodeCompactPeers(msg.dropped.filter((p) => !isV6(p.host)), 4)],
      ['dropped6', encodeCompactPeers(msg.dropped.filter((p) => isV6(p.host)), 6)],
    ]),
  );
}

/**
 * Decodes a ut_pex message: IPv4 peers first, then IPv6. Fields that are missing or not byte
 * strings count as empty; a flags string whose length does not match its peers is ignored (the
 * peers come without flags). Throws WireError if the payload is not a dictionary or a peer list's
 * length is not a multiple of 6 (IPv4) or 18 (IPv6).
 */
export function decodePex(payload: Uint8Array): PexMessage {
  const d = decodeDict(payload, 'ut_pex');
  const peers = (key: string, family: 4 | 6, flagsKey?: string): PeerAddress[] => {
    const v = d.get(key);
    if (!(v instanceof Uint8Array)) return [];
    const list = decodeCompactPeers(v, family);
    const f = flagsKey === undefined ? undefined : d.get(flagsKey);
    if (f instanceof Uint8Array && f.length === list.length) list.forEach((p, i) => (p.flags = f[i]!));
    return list;
  };
  return {
    added: [...peers('added', 4, 'added.f'), ...peers('added6', 6, 'added6.f')],
    dropped: [...peers('dropped', 4), ...peers('dropped6', 6)],
  };
}

// ---------------------------------------------------------------------------------------------
// Compact peers (BEP 23 for IPv4, BEP 7 for IPv6): address then big-endian port
// ---------------------------------------------------------------------------------------------

/** Encodes peers as 6 (IPv4) or 18 (IPv6) bytes each. Throws RangeError for a host of the other family or a bad port. */
export function encodeCompactPeers(peers: readonly PeerAddress[], family: 4 | 6): Buffer {
  const ipLength = family === 4 ? 4 : 16;
  const stride = ipLength + 2;
  const out = Buffer.allocUnsafe(peers.length * stride);
  peers.forEach((p, i) => {
    const ip = family === 4 ? parseIPv4(p.host) : parseIPv6(p.host);
    if (ip === null) throw new RangeError(`${JSON.stringify(p.host)} is not an IPv${family} address`);
    if (!isInt(p.port, 0, 0xffff)) throw new RangeError(`port ${p.port} is not a 16-bit port`);
    out.set(ip, i * stride);
    out.writeUInt16BE(p.port, i * stride + ipLength);
  });
  return out;
}

/**
 * Decodes 6-byte (IPv4) or 18-byte (IPv6) compact peers. A length that is not a whole number of
 * peers throws WireError WIRE_MALFORMED rather than being truncated: the list is then not what its
 * sender meant, and a tracker or peer that sends it is broken.
 */
export function decodeCompactPeers(buf: Uint8Array, family: 4 | 6): PeerAddress[] {
  const ipLength = family === 4 ? 4 : 16;
  const stride = ipLength + 2;
  if (buf.length % stride !== 0) {
    throw new WireError('WIRE_MALFORMED', `compact IPv${family} peer list of ${buf.length} bytes is not a multiple of ${stride}`);
  }
  const out: PeerAddress[] = [];
  for (let o = 0; o < buf.length; o += stride) {
    const host = family === 4 ? formatIPv4(buf, o) : formatIPv6(buf, o);
    out.push({ host, port: (buf[o + ipLength]! << 8) | buf[o + ipLength + 1]! });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// IP text
// ---------------------------------------------------------------------------------------------

/** 4 or 16 bytes for IPv4 or IPv6 text, or null if `host` is neither (zone ids such as "%eth0" are not accepted). */
export function parseIp(host: string): Uint8Array | null {
  return isV6(host) ? parseIPv6(host) : parseIPv4(host);
}

/** Text for a 4- or 16-byte address (IPv6 as Node prints socket addresses). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIPv4(bytes, 0);
  if (bytes.length === 16) return formatIPv6(bytes, 0);
  throw new RangeError(`an IP address is 4 or 16 bytes, not ${bytes.length}`);
}

function isV6(host: string): boolean {
  return host.includes(':');
}

function formatIPv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/**
 * RFC 5952 text, exactly as libuv (and so Node's `socket.remoteAddress`) prints it, so that one
 * peer heard of by PEX and seen on a socket has one name: lower case, no leading zeros, the first
 * longest run of two or more zero groups as "::", and dotted IPv4 for ::ffff:a.b.c.d and
 * ::a.b.c.d (but "::1", "::" and "::x" stay hex).
 */
function formatIPv6(b: Uint8Array, o: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    return `${bestLen === 5 ? '::ffff:' : '::'}${formatIPv4(b, o + 12)}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += '::';
      continue;
    }
    if (s.length > 0 && !s.endsWith('::')) s += ':';
    s += words[i]!.toString(16);
  }
  return s;
}

/** Dotted decimal, four parts of 0-255 without leading zeros (a leading zero means octal to some parsers). */
function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

/** Any RFC 4291 text form: full, "::"-compressed, upper or lower case, with a dotted IPv4 tail. */
function parseIPv6(s: string): Uint8Array | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (last && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4(item);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const compressed = halves.length === 2;
  const head = groups(halves[0]!, !compressed);
  const tail = compressed ? groups(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return null;
  const words = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

function isInt(v: BValue | number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

function decodeDict(payload: Uint8Array, what: string): BDict {
  let v: BValue;
  try {
    v = bdecode(payload);
  } catch (e) {
    throw asWireError(e, what);
  }
  if (!(v instanceof Map)) throw new WireError('WIRE_EXTENSION', `${what} is not a bencoded dictionary`);
  return v;
}

function asWireError(e: unknown, what: string): unknown {
  return e instanceof BencodeError ? new WireError('WIRE_EXTENSION', `${what}: ${e.message}`) : e;
}

// ---------------------------------------------------------------------------------------------
// sb_members (seedbank's own extension): the peer ids of the sender's seedbank neighbours that
// still download from the origin, so that origin ownership is decided over two hops
// (engine/member-view.ts). Other clients never see it: it is only sent to peers that list it in
// their extension handshake.
// ---------------------------------------------------------------------------------------------

/** Ids in one sb_members message. */
export const MAX_MEMBER_IDS = 100;

export function encodeMembers(ids: readonly Uint8Array[]): Buffer {
  const list = ids.slice(0, MAX_MEMBER_IDS);
  if (list.some((id) => id.length !== 20)) throw new RangeError('sb_members: peer ids are 20 bytes');
  return bencode(new Map<string, BEncodable>([['ids', Buffer.concat(list)]]));
}

/** Throws WireError if the payload is not a dictionary or `ids` is not a whole number of 20-byte ids. */
export function decodeMembers(payload: Uint8Array): Uint8Array[] {
  const d = decodeDict(payload, 'sb_members');
  const v = d.get('ids');
  if (v === undefined) return [];
  if (!(v instanceof Uint8Array) || v.length % 20 !== 0) throw new WireError('WIRE_EXTENSION', 'sb_members: ids is not a string of 20-byte peer ids');
  const out: Uint8Array[] = [];
  for (let i = 0; i < v.length && out.length < MAX_MEMBER_IDS; i += 20) out.push(v.subarray(i, i + 20));
  return out;
}
