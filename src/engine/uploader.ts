/**
 * The upload side of a torrent: requests peers send us, served from the piece cache in corked
 * batches within the upload rate limits, and what choking does to the queue (BEP 3, BEP 6
 * rejects). Not for: deciding whom to unchoke (choker.ts).
 */
import { type PeerConnection } from './peer-connection.js';
import { type PieceCache } from './piece-cache.js';
import { type TokenBucket, takeAll } from './rate-limit.js';

/** Largest block we serve (BEP 3 says 16 KiB; some clients ask for more). */
const MAX_REQUEST = 128 * 1024;
/** Requests from one peer we queue before rejecting. */
const MAX_UPLOAD_QUEUE = 2000;

export interface UploaderDeps {
  numPieces: number;
  pieceSize: (index: number) => number;
  /** Whether we serve piece `index` (have it verified, or can fetch it: `fetch`). */
  have: (index: number) => boolean;
  /**
   * A seed backed by an origin (`seed --from-origin`): gets a piece we advertise but do not hold
   * yet; resolves once it is verified and written. Absent: every piece we serve is on disk.
   */
  fetch?: (index: number) => Promise<void>;
  /** Whether piece `index` is verified and on disk. */
  present: (index: number) => boolean;
  cache: PieceCache;
  buckets: readonly TokenBucket[];
  onUploaded: (bytes: number) => void;
}

export class Uploader {
  constructor(private readonly d: UploaderDeps) {}

  onRequest(conn: PeerConnection, index: number, begin: number, length: number): void {
    const reject = () => {
      if (conn.supportsFast) conn.send({ type: 'reject', index, begin, length });
    };
    if (conn.amChoking && !conn.allowedFast.has(index)) return reject();
    if (index >= this.d.numPieces || !this.d.have(index)) return reject();
    if (length === 0 || length > MAX_REQUEST || begin + length > this.d.pieceSize(index)) return conn.close(`invalid request ${index}:${begin}+${length} (piece size ${this.d.pieceSize(index)})`);
    if (conn.uploadQueue.length >= MAX_UPLOAD_QUEUE) return reject();
    conn.uploadQueue.push({ index, begin, length });
    this.pump(conn);
  }

  /**
   * Serves queued requests: blocks come from the piece cache (whole pieces read once, the next
   * queued pieces read ahead), many blocks go out per corked write, and the loop stops only when
   * the socket's buffer is full, resuming on 'drain'.
   */
  pump(conn: PeerConnection): void {
    if (conn.uploading || conn.closed) return;
    conn.uploading = true;
    void (async () => {
      let corked = false;
      const uncork = () => {
        if (corked) conn.socket.uncork();
        corked = false;
      };
      try {
        while (conn.uploadQueue.length && !conn.closed && !conn.congested && !conn.amChoking) {
          const r = conn.uploadQueue[0]!;
          const wait = takeAll(this.d.buckets, r.length);
          if (wait > 0) {
            uncork();
            await new Promise((resolve) => setTimeout(resolve, wait));
            if (conn.closed || conn.amChoking) break;
          }
          let block = this.d.cache.peek(r.index, r.begin, r.length);
          if (!block) {
            uncork();
            if (this.d.fetch) {
              await this.d.fetch(r.index);
              if (conn.closed || conn.amChoking) break;
            }
            // Read ahead the next distinct pieces this peer asked for while we wait for this one.
            let ahead = 0;
            for (const q of conn.uploadQueue) {
              // (Never a piece still to come from an origin: the read would cache what is not there.)
              if (q.index !== r.index && (!this.d.fetch || this.d.present(q.index)) && ahead++ < 4) this.d.cache.prefetch(q.index);
            }
            block = await this.d.cache.block(r.index, r.begin, r.length);
            if (conn.closed || conn.amChoking) break;
          }
          if (conn.uploadQueue[0] !== r) continue; // cancelled while we waited
          conn.uploadQueue.shift();
          if (!corked) {
            conn.socket.cork();
            corked = true;
          }
          conn.sendPiece(r.index, r.begin, block);
          this.d.onUploaded(block.length);
        }
      } catch (e) {
        conn.close(`cannot read our own data: ${(e as Error).message}`);
      } finally {
        uncork();
        conn.uploading = false;
      }
    })();
  }

  setChoke(conn: PeerConnection, choke: boolean): void {
    if (conn.amChoking === choke) return;
    conn.amChoking = choke;
    conn.send({ type: choke ? 'choke' : 'unchoke' });
    if (choke) {
      if (conn.supportsFast) for (const r of conn.uploadQueue) conn.send({ type: 'reject', ...r });
      conn.uploadQueue.length = 0;
    } else this.pump(conn);
  }

  onCancel(conn: PeerConnection, index: number, begin: number, length: number): void {
    const i = conn.uploadQueue.findIndex((r) => r.index === index && r.begin === begin && r.length === length);
    if (i >= 0) conn.uploadQueue.splice(i, 1);
  }
}
