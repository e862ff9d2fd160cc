/**
 * The peer wire protocol's 68-byte handshake (BEP 3) and the feature bits of its reserved bytes
 * (BEP 5, 6, 10, 52): encoding, decoding, setting and testing flags.
 *
 * For: the bytes that open a connection, before any message. The messages are in wire-messages.ts
 * and the incremental decoder that also reads a handshake split across chunks in wire-decoder.ts;
 * importers use wire.ts, which re-exports all three. Pure: no sockets, no files.
 */
import { WireError, checkBytes } from './wire-messages.js';

export const PROTOCOL_NAME = 'BitTorrent protocol';
/** 1 + 19 + 8 reserved + 20 info hash + 20 peer id. */
export const HANDSHAKE_LENGTH = 68;
const PROTOCOL_PREFIX = Buffer.from(`\x13${PROTOCOL_NAME}`, 'latin1');

export interface Handshake {
  /** 8 bytes of feature bits; see `hasReserved`. */
  reserved: Uint8Array;
  /** 20 bytes: the v1 info hash, or a v2 info hash truncated to 20 bytes (BEP 52). */
  infoHash: Uint8Array;
  /** 20 bytes. */
  peerId: Uint8Array;
}

/** One feature bit of the handshake's reserved bytes. */
export interface ReservedFlag {
  readonly byte: number;
  readonly mask: number;
}

/** BEP 10 extension protocol: reserved[5] & 0x10. */
export const RESERVED_EXTENSION: ReservedFlag = Object.freeze({ byte: 5, mask: 0x10 });
/** BEP 6 fast extension: reserved[7] & 0x04. */
export const RESERVED_FAST: ReservedFlag = Object.freeze({ byte: 7, mask: 0x04 });
/** BEP 5 DHT (the peer sends 'port' messages): reserved[7] & 0x01. */
export const RESERVED_DHT: ReservedFlag = Object.freeze({ byte: 7, mask: 0x01 });
/** BEP 52 upgrade: a hybrid torrent's peer that also speaks v2 ("4th most significant bit of the last byte"). */
export const RESERVED_V2: ReservedFlag = Object.freeze({ byte: 7, mask: 0x10 });

/** 8 reserved bytes with the given flags set and every other bit zero. */
export function makeReserved(flags: Iterable<ReservedFlag> = []): Uint8Array {
  const r = new Uint8Array(8);
  for (const f of flags) r[f.byte] |= f.mask;
  return r;
}

export function hasReserved(reserved: Uint8Array, flag: ReservedFlag): boolean {
  return ((reserved[flag.byte] ?? 0) & flag.mask) === flag.mask;
}

export function encodeHandshake(h: Handshake): Buffer {
  checkBytes('reserved', h.reserved, 8);
  checkBytes('infoHash', h.infoHash, 20);
  checkBytes('peerId', h.peerId, 20);
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  PROTOCOL_PREFIX.copy(out, 0);
  out.set(h.reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/**
 * Decodes the handshake at the start of `buf` (bytes after the first 68 are ignored: they are the
 * first messages). The fields are copies.
 */
export function decodeHandshake(buf: Uint8Array): Handshake {
  if (buf.length < HANDSHAKE_LENGTH) {
    throw new WireError('WIRE_HANDSHAKE', `handshake of ${buf.length} bytes; it must be ${HANDSHAKE_LENGTH}`);
  }
  checkProtocolPrefix(buf, 0, 20);
  return {
    // new Uint8Array(view) copies; Buffer#slice would not.
    reserved: new Uint8Array(buf.subarray(20, 28)),
    infoHash: new Uint8Array(buf.subarray(28, 48)),
    peerId: new Uint8Array(buf.subarray(48, 68)),
  };
}

/** Checks bytes [from, to) of a handshake against 19 "BitTorrent protocol". */
export function checkProtocolPrefix(buf: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (buf[i] !== PROTOCOL_PREFIX[i]) {
      throw new WireError('WIRE_HANDSHAKE', 'peer did not send the "BitTorrent protocol" handshake (an encrypted or non-BitTorrent connection?)');
    }
  }
}
