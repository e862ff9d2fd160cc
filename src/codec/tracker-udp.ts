/**
 * Tracker codec, UDP part: BEP 15 connect, announce, scrape and error packets, both directions.
 * Pure: bytes in, values out; no sockets.
 *
 * For: the UDP tracker client (src/discovery/udp-tracker.ts) and server
 * (src/discovery/tracker-server.ts). Import it through tracker.ts.
 * Not for: HTTP trackers (tracker-http.ts) or retries and connection-id lifetimes.
 */
import {
  type AnnounceRequest,
  type IpFamily,
  type Peer,
  type ScrapeStats,
  EVENTS,
  TrackerError,
  bytesToIp,
  checkCount,
  checkHash,
  decodeCompactPeers,
  encodeCompactPeers,
  ipToBytes,
  utf8,
} from './tracker-common.js';

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
