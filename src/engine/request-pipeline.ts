/**
 * What a torrent asks its peers for: keeps each connection's queue of block requests topped up
 * (pipelining, request-queue.ts sizes it), counts the requests in flight per peer, moves the
 * requests of a snubbed or choking peer elsewhere, and keeps our interested / not interested
 * state in step with what each peer has that we want (BEP 3).
 *
 * Not for: which blocks to ask for (picker.ts), what happens to a block once it arrives
 * (piece-assembly.ts), the upload side (uploader.ts).
 */
import { type PeerConnection } from './peer-connection.js';
import { type BlockRequest, type PiecePicker } from './picker.js';
import { SNUB_MS, countWanted, queueDepth, requestsToAdd } from './request-queue.js';

export interface RequestPipelineDeps {
  picker: PiecePicker;
  connections: ReadonlyMap<string, PeerConnection>;
  now: () => number;
  stopped: () => boolean;
  /** Complete pieces wait for hashing or the disk: ask for nothing more now. */
  backlogFull: () => boolean;
  /** Of the requests picked for a peer, those it may send (piece-assembly.ts: smart ban retries). */
  allowedRequests: (key: string, picked: BlockRequest[]) => BlockRequest[];
}

export class RequestPipeline {
  /** Block requests outstanding at each connected peer. */
  private readonly inflight = new Map<string, number>();

  constructor(private readonly deps: RequestPipelineDeps) {}

  /** A connection opened: nothing asked of it yet. */
  open(key: string): void {
    this.inflight.set(key, 0);
  }

  /** The connection closed. */
  forget(key: string): void {
    this.inflight.delete(key);
  }

  /** Requests outstanding at peer `key`. */
  outstanding(key: string): number {
    return this.inflight.get(key) ?? 0;
  }

  /** Once a second: snub peers that stopped sending (their requests go elsewhere), then top up. */
  tick(t: number): void {
    for (const c of this.deps.connections.values()) {
      if (!c.snubbed && (this.inflight.get(c.key) ?? 0) > 0 && t - c.lastBlockAt > SNUB_MS) {
        c.snubbed = true;
        this.release(c);
      }
      this.fill(c);
    }
  }

  /** Tops up every connection's queue (a peer left, the backlog drained). */
  fillAll(): void {
    for (const c of this.deps.connections.values()) this.fill(c);
  }

  fill(conn: PeerConnection): void {
    if (this.deps.stopped() || conn.closed || !conn.amInterested) return;
    if (conn.peerChoking && conn.allowedFast.size === 0) return;
    // Backpressure: when hashing or the disk falls behind the network, stop asking for more.
    if (this.deps.backlogFull()) return;
    const have = this.inflight.get(conn.key) ?? 0;
    if (have === 0) conn.lastBlockAt = this.deps.now(); // the wait for a block starts now
    const want = requestsToAdd(have, queueDepth(conn.down.rate(), conn.reqq, conn.snubbed));
    if (want === 0) return;
    const picked = this.deps.picker.pick(conn.key, want, { choked: conn.peerChoking, allowedFast: conn.allowedFast });
    const reqs = this.deps.allowedRequests(conn.key, picked);
    conn.sendAll(reqs.map((r) => ({ type: 'request' as const, index: r.index, begin: r.begin, length: r.length })));
    this.inflight.set(conn.key, have + reqs.length);
  }

  /** Everything asked of `conn` goes back to the picker (choked without BEP 6, or snubbed). */
  release(conn: PeerConnection): void {
    for (const r of this.deps.picker.outstanding(conn.key)) this.deps.picker.requestFailed(conn.key, r);
    this.inflight.set(conn.key, 0);
  }

  /** One request at peer `key` is over: answered, cancelled, or (`received` false) rejected. */
  settled(key: string, r: BlockRequest, received: boolean): void {
    this.inflight.set(key, Math.max(0, (this.inflight.get(key) ?? 0) - 1));
    if (!received) this.deps.picker.requestFailed(key, r);
  }

  /**
   * Interest follows what the peer has that we want (`conn.wanted`): interested when it has
   * something, not interested once we have everything it has (BEP 3). A peer that stays
   * "interested" in us with nothing left to ask holds one of our upload slots for nothing.
   * `index`: the peer just got that piece; null: recount (bitfield, priorities changed).
   */
  updateInterest(conn: PeerConnection, index: number | null): void {
    if (index === null) conn.wanted = countWanted(this.deps.picker, conn);
    else if (this.deps.picker.wants(index)) conn.wanted++;
    if (!conn.amInterested && conn.wanted > 0) {
      conn.amInterested = true;
      conn.send({ type: 'interested' });
      this.fill(conn);
    }
  }

  /** We have piece `index` now: peers that had it have one piece less for us. */
  lostInterest(index: number): void {
    for (const c of this.deps.connections.values()) {
      if (!(c.peerHasAll || c.have.has(index))) continue;
      if (--c.wanted > 0 || !c.amInterested) continue;
      c.wanted = countWanted(this.deps.picker, c);
      if (c.wanted > 0) continue;
      c.amInterested = false;
      c.send({ type: 'not-interested' });
    }
  }
}
