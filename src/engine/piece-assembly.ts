/**
 * The download side of a torrent after the bytes arrive: blocks from any source (peer or web
 * seed) are assembled into piece buffers, complete pieces go to the hash workers and then to
 * storage, and a piece that fails its check is charged to whoever sent it (smart ban when several
 * peers took part). Also bounds the memory that complete pieces waiting for hashing or the disk
 * may hold (the backlog).
 *
 * Not for: deciding what to request (picker.ts, torrent.ts), sockets or messages (it names peers
 * by key only and reaches them through its owner's callbacks), keeping strikes and bans (the
 * owner does: `strike` and `clearStrikes`).
 */
import { type Metainfo } from '../codec/metainfo.js';
import { type BlockRequest, type PiecePicker } from './picker.js';
import { pieceSize } from './piece-info.js';
import { PieceVerifier } from './piece-verifier.js';
import { BLOCK, SmartBan } from './smart-ban.js';

/**
 * Strikes before a peer is banned. Sole sender of a bad piece, or proven sender of a bad block
 * (smart ban): all of them at once. Bad piece-layer hashes: one strike each.
 */
export const BAN_STRIKES = 4;
/** Complete pieces waiting for the hash workers or the disk before we stop requesting: bounds memory. */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/** Failed pieces whose bad copy we keep for smart ban. */
const MAX_SUSPECT_PIECES = 16;
/** Spare piece buffers kept for reuse. */
const MAX_FREE_BUFFERS = 8;

/** What the assembly needs from its torrent: narrow on purpose, so it can be reasoned about alone. */
export interface PieceAssemblyDeps {
  metainfo: Metainfo;
  picker: PiecePicker;
  /** Writes a verified piece (storage.writePiece). */
  writePiece: (index: number, data: Buffer) => Promise<void>;
  /** The torrent is stopping: results that arrive now are dropped. */
  stopped: () => boolean;
  /** Whether a peer is still connected (a suspect piece's retry owner may have left). */
  isConnected: (key: string) => boolean;
  /** End game: `peer` had also been asked for this block; cancel it there. */
  cancel: (peer: string, req: BlockRequest) => void;
  /** The backlog fell below half its bound: ask for more. */
  onBacklogDrained: () => void;
  /** Piece `index` passed its check and is on disk; `who` sent its blocks. */
  onWritten: (index: number, who: string[]) => void;
  /** Piece `index` failed its check (already given back to the picker); `who` sent its blocks. */
  onHashFailed: (index: number, who: string[]) => void;
  /** Adds `n` strikes against `key` (a peer or an origin); the owner bans at BAN_STRIKES. */
  strike: (key: string, n: number, reason: string) => void;
  /** `key` was suspected for nothing: its slate is clean (unless it is banned already). */
  clearStrikes: (key: string) => void;
  /** Storage failed: the torrent cannot go on. */
  fail: (e: Error) => void;
}

export class PieceAssembly {
  private readonly verifier: PieceVerifier;
  private readonly buffers = new Map<number, Buffer>();
  /** Who sent each block of a piece being downloaded (block index -> peer key). */
  private readonly senders = new Map<number, string[]>();
  private readonly smartBan = new SmartBan(MAX_SUSPECT_PIECES);
  /** The one peer a suspect piece is being fetched from again. */
  private readonly suspectOwner = new Map<number, string>();
  private readonly freeBuffers: ArrayBuffer[] = [];
  /** Complete pieces handed to the verifier, by index. */
  private readonly verifying = new Map<number, Buffer>();
  /** Bytes of complete pieces not yet verified and written. */
  private backlog = 0;

  constructor(private readonly deps: PieceAssemblyDeps) {
    this.verifier = new PieceVerifier(deps.metainfo);
  }

  /** Backpressure: when hashing or the disk falls behind the network, stop asking for more. */
  get backlogFull(): boolean {
    return this.backlog >= MAX_BACKLOG_BYTES;
  }

  /**
   * Of the requests picked for peer `key`, those it may send. A piece that failed with blocks
   * from several peers is fetched again from one peer only, so the retry either passes (and
   * smart ban names the liar) or fails with a single sender. The others go back to the picker.
   */
  allowedRequests(key: string, picked: BlockRequest[]): BlockRequest[] {
    return picked.filter((r) => {
      if (!this.smartBan.has(r.index)) return true;
      const owner = this.suspectOwner.get(r.index);
      if (owner === undefined || owner === key || !this.deps.isConnected(owner)) {
        this.suspectOwner.set(r.index, key);
        return true;
      }
      this.deps.picker.requestFailed(key, r);
      return false;
    });
  }

  /**
   * A block from any source (peer or web seed), already checked to be a block of this torrent:
   * into its piece buffer, and the piece to the verifier once complete. False for a duplicate.
   */
  accept(key: string, req: BlockRequest, block: Uint8Array): boolean {
    const { index, begin } = req;
    const size = pieceSize(this.deps.metainfo, index);
    const r = this.deps.picker.blockReceived(key, req);
    if (r.duplicate) return false;
    for (const other of r.cancelFrom) this.deps.cancel(other, req);
    let buf = this.buffers.get(index);
    if (!buf) {
      buf = this.takeBuffer(size);
      this.buffers.set(index, buf);
    }
    buf.set(block, begin);
    let who = this.senders.get(index);
    if (!who) this.senders.set(index, (who = []));
    who[Math.floor(begin / BLOCK)] = key;
    if (r.pieceComplete) {
      this.verifying.set(index, buf);
      const bytes = buf.length; // read now: the buffer is detached while a worker hashes it
      this.backlog += bytes;
      void this.finishPiece(index).finally(() => {
        this.backlog -= bytes;
        if (this.backlog < MAX_BACKLOG_BYTES / 2) this.deps.onBacklogDrained();
      });
    }
    return true;
  }

  /** Stops the hash workers. */
  async close(): Promise<void> {
    await this.verifier.close();
  }

  /** Piece buffers are reused: a fresh 4 MiB buffer per piece costs page faults and GC. */
  private takeBuffer(size: number): Buffer {
    const ab = this.freeBuffers.pop() ?? new ArrayBuffer(this.deps.metainfo.pieceLength);
    return Buffer.from(ab, 0, size);
  }

  private giveBuffer(buf: Buffer): void {
    if (buf.buffer.byteLength === this.deps.metainfo.pieceLength && this.freeBuffers.length < MAX_FREE_BUFFERS) this.freeBuffers.push(buf.buffer as ArrayBuffer);
  }

  private async finishPiece(index: number): Promise<void> {
    const senders = this.senders.get(index) ?? [];
    const who = [...new Set(senders.filter(Boolean))];
    this.buffers.delete(index); // detached while the worker hashes it
    this.senders.delete(index);
    let verdict: 'ok' | 'bad' | 'unverifiable';
    let buf: Buffer;
    try {
      ({ verdict, piece: buf } = await this.verifier.verify(index, this.verifying.get(index)!));
    } catch {
      this.verifying.delete(index);
      if (!this.deps.stopped()) this.deps.picker.pieceFailed(index);
      return;
    }
    this.verifying.delete(index);
    if (this.deps.stopped()) return;
    if (verdict !== 'ok') {
      this.onHashFailure(index, buf, senders, who);
      return;
    }
    this.judgeSuspects(index, buf);
    try {
      await this.deps.writePiece(index, buf);
    } catch (e) {
      this.deps.fail(e as Error);
      return;
    }
    this.giveBuffer(buf);
    this.deps.onWritten(index, who);
  }

  private onHashFailure(index: number, buf: Buffer, senders: string[], who: string[]): void {
    this.deps.picker.pieceFailed(index);
    this.deps.onHashFailed(index, who);
    if (who.length === 1) {
      // One sender: it is the culprit.
      this.giveBuffer(buf);
      this.deps.strike(who[0]!, BAN_STRIKES, `sent data for piece ${index} that failed its hash check`);
      return;
    }
    // Several senders: keep the bad copy to compare with the good one once the piece passes, and
    // strike nobody yet (an honest peer that shared a piece with a liar must not pay for it).
    this.smartBan.failed(index, buf, senders);
    this.suspectOwner.delete(index);
    this.giveBuffer(buf);
  }

  /** The piece passed: the senders of blocks that differ from the failed copy are banned. */
  private judgeSuspects(index: number, good: Buffer): void {
    this.suspectOwner.delete(index);
    const v = this.smartBan.passed(index, good);
    if (!v) return;
    for (const key of v.guilty) this.deps.strike(key, BAN_STRIKES, `sent corrupt block(s) of piece ${index}`);
    // The others were blamed for nothing: their slate is clean.
    for (const key of v.cleared) {
      if (!v.guilty.includes(key)) this.deps.clearStrikes(key);
    }
  }
}
