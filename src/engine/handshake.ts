/**
 * The BitTorrent handshake on a fresh socket (BEP 3, with BEP 10/6/52 reserved bits).
 *
 * Outgoing: send ours at once, then read theirs and check the info hash. Incoming: read theirs,
 * find the torrent by its info hash (v1, or v2 truncated to 20 bytes), then answer with ours. Bytes
 * that arrive after the 68-byte handshake are handed on, not lost.
 */
import type { Socket } from 'node:net';
import { type Handshake, decodeHandshake, encodeHandshake } from '../codec/wire.js';
import { onBytes } from './socket-reader.js';

/** 1 + 19 ('BitTorrent protocol') + 8 reserved + 20 info hash + 20 peer id. */
const HANDSHAKE_LENGTH = 68;

export interface HandshakeResult {
  remote: Handshake;
  /** Bytes received after the handshake (the start of the message stream). */
  rest: Buffer;
}

export class HandshakeError extends Error {
  override name = 'HandshakeError';
}

/** Reads exactly the 68-byte handshake, with a timeout. */
function readHandshake(socket: Socket, timeoutMs: number): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err: Error | null, r?: HandshakeResult) => {
      clearTimeout(timer);
      stopReading();
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(r!);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk)); // a copy: the chunk may be a reused read buffer
      got += chunk.length;
      if (got < HANDSHAKE_LENGTH) return;
      socket.pause();
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        done(null, { remote: decodeHandshake(all.subarray(0, HANDSHAKE_LENGTH)), rest: all.subarray(HANDSHAKE_LENGTH) });
      } catch (e) {
        done(new HandshakeError((e as Error).message));
      }
    };
    const onClose = () => done(new HandshakeError('connection closed during handshake'));
    const onError = (e: Error) => done(new HandshakeError(e.message));
    const timer = setTimeout(() => done(new HandshakeError('handshake timed out')), timeoutMs);
    timer.unref?.();
    const stopReading = onBytes(socket, onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.resume();
  });
}

export interface OutgoingHandshake {
  infoHash: Buffer;
  /**
   * Hashes the peer may answer with. For a hybrid torrent a v2 peer that sees our upgrade bit
   * answers with the truncated v2 hash although we sent the v1 one (BEP 52); libtorrent does.
   */
  acceptHashes?: Buffer[];
  /** Take any info hash in the answer (the caller checks what it then receives). */
  acceptAny?: boolean;
  peerId: Buffer;
  reserved: Buffer;
  timeoutMs: number;
}

export async function handshakeOutgoing(socket: Socket, ours: OutgoingHandshake): Promise<HandshakeResult> {
  socket.write(encodeHandshake({ infoHash: ours.infoHash, peerId: ours.peerId, reserved: ours.reserved }));
  const r = await readHandshake(socket, ours.timeoutMs);
  const theirs = Buffer.from(r.remote.infoHash);
  if (!ours.acceptAny && !(ours.acceptHashes ?? [ours.infoHash]).some((h) => h.equals(theirs))) throw new HandshakeError('peer answered for another torrent');
  if (Buffer.from(r.remote.peerId).equals(ours.peerId)) throw new HandshakeError('connected to ourselves');
  return r;
}

/**
 * Reads an incoming handshake and asks `accept` whether we serve that info hash; `accept`
 * returns our reply (or null to refuse).
 */
export async function handshakeIncoming(
  socket: Socket,
  timeoutMs: number,
  accept: (remote: Handshake) => { peerId: Buffer; reserved: Buffer } | null,
): Promise<HandshakeResult> {
  const r = await readHandshake(socket, timeoutMs);
  const reply = accept(r.remote);
  if (!reply) throw new HandshakeError('unknown info hash');
  if (Buffer.from(r.remote.peerId).equals(reply.peerId)) throw new HandshakeError('connected to ourselves');
  socket.write(encodeHandshake({ infoHash: Buffer.from(r.remote.infoHash), peerId: reply.peerId, reserved: reply.reserved }));
  return r;
}
