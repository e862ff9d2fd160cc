/**
 * One seedbank node in the swarm simulator: the real piece picker, choker, request pipelining,
 * origin rules and run picking (src/engine), driven by simulated messages instead of sockets.
 * The message handling mirrors engine/torrent.ts step for step (bitfield, have, interested,
 * choke with BEP 6 rejects, requests, blocks, end-game cancels, done, PEX, the 1 s tick and the
 * 10 s rechoke); what it leaves out is what costs no bandwidth or cannot differ in a simulation:
 * hashing (data is not modelled: every block is good), storage, the handshake's bytes, timeouts.
 *
 * Not for: the network (uplink.ts), the swarm, tracker and origin host (swarm.ts).
 */
import { Bitfield } from '../codec/bitfield.js';
import { Choker, chokeCandidate as candidate } from '../engine/choker.js';
import { OriginRules, type OriginPolicy, wantedPeers } from '../engine/origin-rules.js';
import { pickRun, runLimit } from '../engine/origin-run.js';
import { MAX_REPORTED_MEMBERS, MEMBERS_INTERVAL_MS, MEMBERS_SECOND_REPORT_MS, MemberView } from '../engine/member-view.js';
import { PeerList, type KnownPeer } from '../engine/peer-list.js';
import { type BlockRequest, PiecePicker } from '../engine/picker.js';
import { RateMeter } from '../engine/rate.js';
import { FIRST_PEX_MS, MAX_PEX_PEERS, PEX_INTERVAL_MS } from '../engine/pex.js';
import { SNUB_MS, countWanted, queueDepth, requestsToAdd } from '../engine/request-queue.js';
import { type SimClock, seededRandom } from './clock.js';
import { Downlink, Uplink, type UplinkStream } from './uplink.js';

/** What a node needs from the swarm around it. */
export interface SimWorld {
  readonly clock: SimClock;
  /** One-way latency between any two hosts, ms. */
  readonly latencyMs: number;
  readonly numPieces: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly maxConnections: number;
  readonly policy: OriginPolicy;
  readonly originConnections: number;
  node(key: string): SimNode | undefined;
  /** Asks the origin for `run`; `block` is called as each block arrives. */
  originFetch(from: SimNode, run: BlockRequest[], block: (r: BlockRequest) => void): void;
  nodeDone(n: SimNode): void;
}

const WEB = 'web';
const PORT = 6881;
const MAX_HALF_OPEN = 10;
const IDLE_POLL_MS = 500;
const MAX_RUN_BYTES = 16 * 1024 * 1024;
const REQQ = 250;

export function simHost(index: number): string {
  return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

/** One end of a connection, as torrent.ts keeps it (PeerConnection's state). */
export class SimConn implements UplinkStream {
  amChoking = true;
  amInterested = false;
  /** Pieces this peer has that we want (as PeerConnection.wanted). */
  wanted = 0;
  peerChoking = true;
  peerInterested = false;
  peerHasAll = false;
  have: Bitfield;
  inflight = 0;
  snubbed = false;
  lastBlockAt: number;
  readonly connectedAt: number;
  pexSentAt: number | null = null;
  membersSentAt: number | null = null;
  readonly uploadQueue: BlockRequest[] = [];
  readonly down: RateMeter;
  readonly up: RateMeter;
  closed = false;
  queued = false;
  remote!: SimConn;

  constructor(
    readonly node: SimNode,
    readonly peer: SimNode,
  ) {
    const now = node.world.clock.now;
    this.have = new Bitfield(node.world.numPieces);
    this.lastBlockAt = this.connectedAt = now();
    this.down = new RateMeter(now);
    this.up = new RateMeter(now);
  }

  get key(): string {
    return this.peer.key;
  }

  /** A message to the other end, delivered one latency later unless the connection closed. */
  send(fn: (remote: SimConn) => void): void {
    const remote = this.remote;
    this.node.world.clock.after(this.node.world.latencyMs, () => {
      if (!remote.closed) fn(remote);
    });
  }

  /** UplinkStream: the next requested block, while we unchoke this peer. */
  next(): { bytes: number; sent: () => void } | null {
    if (this.closed || this.amChoking) return null;
    const r = this.uploadQueue.shift();
    if (!r) return null;
    return {
      bytes: r.length,
      sent: () => {
        this.up.add(r.length);
        this.node.uploaded += r.length;
        const w = this.node.world;
        const remote = this.remote;
        const at = remote.node.downlink.arrival(w.clock.now() + w.latencyMs, r.length);
        w.clock.at(at, () => {
          if (!remote.closed) remote.node.onBlock(remote, r);
        });
      },
    };
  }
}

export class SimNode {
  readonly key: string;
  readonly host: string;
  readonly id: Buffer;
  readonly picker: PiecePicker;
  readonly choker: Choker;
  readonly uplink: Uplink;
  readonly downlink: Downlink;
  readonly peers: PeerList;
  readonly conns = new Map<string, SimConn>();
  readonly members: MemberView;
  private readonly rules: OriginRules;
  private readonly random: () => number;
  private halfOpen = 0;
  private lastPeerBlockAt: number;
  private stops: Array<() => void> = [];
  private webActive = false;
  joinedAt = 0;
  doneAt: number | null = null;
  uploaded = 0;
  bytesFromPeers = 0;
  bytesFromOrigin = 0;
  /** Pieces that had at least one block from the origin. */
  readonly originPieces = new Set<number>();

  constructor(
    readonly world: SimWorld,
    readonly index: number,
    seed: number,
    upRate: number,
    downRate: number,
  ) {
    this.host = simHost(index);
    this.key = `${this.host}:${PORT}`;
    this.random = seededRandom(seed);
    this.id = Buffer.alloc(20);
    this.id.write('-SB0001-', 'latin1');
    for (let i = 8; i < 20; i++) this.id[i] = Math.floor(this.random() * 256);
    const now = world.clock.now;
    this.picker = new PiecePicker({ numPieces: world.numPieces, pieceLength: world.pieceLength, totalLength: world.totalLength, random: this.random, now });
    this.choker = new Choker({ random: this.random, now });
    this.uplink = new Uplink(world.clock, upRate);
    this.downlink = new Downlink(downRate);
    this.peers = new PeerList(now);
    this.lastPeerBlockAt = now();
    this.members = new MemberView(now);
    this.rules = new OriginRules({
      policy: world.policy,
      pieceLength: world.pieceLength,
      now,
      lastPeerBlockAt: () => this.lastPeerBlockAt,
      peersPending: () => this.halfOpen > 0,
      expectPeers: true,
      peersHaveWanted: () => wantedPeers(this.conns.values(), now()),
      peerAvailability: (i) => this.picker.availability(i) - (this.webActive ? 1 : 0),
      selfId: this.id,
      fetchingPeers: () => this.fetchingPeers(),
    });
  }

  get done(): boolean {
    return this.doneAt !== null;
  }

  /** A seed from the start (a node that already holds the dataset). */
  makeSeed(): void {
    for (let i = 0; i < this.world.numPieces; i++) this.picker.markHave(i);
    this.doneAt = 0;
  }

  /** Starts the torrent: peers from the tracker, the timers, the origin's connections. */
  join(trackerPeers: readonly SimNode[], withOrigin: boolean): void {
    const clock = this.world.clock;
    this.joinedAt = clock.now();
    this.lastPeerBlockAt = clock.now();
    for (const p of trackerPeers) this.peers.add(p.host, PORT, 'tracker');
    this.fillConnections();
    this.stops.push(clock.every(1000, () => this.tick()));
    this.stops.push(clock.every(10_000, () => this.rechoke()));
    if (withOrigin && !this.done) {
      this.webActive = true;
      this.picker.peerHasAll(WEB);
      for (let s = 0; s < this.world.originConnections; s++) clock.after(0, () => this.webLoop(s, 0));
    }
  }

  stop(): void {
    for (const s of this.stops) s();
    this.stops = [];
  }

  // ---- connections ----

  private fillConnections(): void {
    const room = Math.min(this.world.maxConnections - this.conns.size - this.halfOpen, MAX_HALF_OPEN - this.halfOpen);
    if (room <= 0) return;
    for (const p of this.peers.candidates(room, this.done)) {
      p.lastAttempt = this.world.clock.now();
      p.connected = true;
      this.halfOpen++;
      this.dial(p);
    }
  }

  /** TCP and BitTorrent handshakes: the other side decides after a round trip. */
  private dial(p: KnownPeer): void {
    const w = this.world;
    w.clock.after(2 * w.latencyMs, () => {
      this.halfOpen--;
      const other = w.node(p.key);
      const ok = other && other !== this && !this.conns.has(other.key) && !other.conns.has(this.key) && other.conns.size < w.maxConnections && !(this.done && other.done);
      if (!ok || !other) {
        p.failures++;
        p.connected = false;
        this.fillConnections();
        return;
      }
      p.failures = 0;
      // The listener learns our listen address from the extension handshake: no second connection.
      other.peers.add(this.host, PORT, 'incoming');
      const back = other.peers.get(this.key);
      if (back) back.connected = true;
      const mine = new SimConn(this, other);
      const theirs = new SimConn(other, this);
      mine.remote = theirs;
      theirs.remote = mine;
      this.conns.set(other.key, mine);
      other.conns.set(this.key, theirs);
      this.sendHaves(mine);
      other.sendHaves(theirs);
      this.sendMembers(mine);
      other.sendMembers(theirs);
      w.clock.after(MEMBERS_SECOND_REPORT_MS, () => {
        if (!mine.closed) this.sendMembers(mine);
        if (!theirs.closed) other.sendMembers(theirs);
      });
    });
  }

  private sendHaves(c: SimConn): void {
    const bf = this.picker.haveBitfield();
    if (bf.count === 0) return; // have-none: nothing to say
    const copy = new Bitfield(bf.size, bf.bytes.slice());
    c.send((r) => r.node.onBitfield(r, copy));
  }

  close(c: SimConn): void {
    if (c.closed) return;
    c.closed = true;
    this.closedLocally(c);
    const remote = c.remote;
    this.world.clock.after(this.world.latencyMs, () => {
      if (remote.closed) return;
      remote.closed = true;
      remote.node.closedLocally(remote);
    });
  }

  private closedLocally(c: SimConn): void {
    this.conns.delete(c.key);
    c.uploadQueue.length = 0;
    this.picker.peerGone(c.key);
    const known = this.peers.get(c.key);
    if (known) known.connected = false;
    for (const o of this.conns.values()) this.fillRequests(o);
    this.fillConnections();
  }

  // ---- messages (torrent.ts onMessage) ----

  onBitfield(c: SimConn, bf: Bitfield): void {
    c.have = bf;
    if (bf.complete) {
      c.peerHasAll = true;
      if (this.markSeed(c)) return;
      this.picker.peerHasAll(c.key);
    } else this.picker.peerBitfield(c.key, bf);
    this.updateInterest(c, null);
  }

  onHave(c: SimConn, index: number): void {
    if (c.have.has(index)) return;
    c.have.set(index);
    this.picker.peerHave(c.key, index);
    this.updateInterest(c, index);
  }

  private markSeed(c: SimConn): boolean {
    const known = this.peers.get(c.key);
    if (known) known.seed = true;
    if (!this.done) return false;
    this.close(c);
    return true;
  }

  /** As torrent.ts: interested while the peer has something we want, not interested after. */
  private updateInterest(c: SimConn, index: number | null): void {
    if (index === null) c.wanted = countWanted(this.picker, c);
    else if (this.picker.wants(index)) c.wanted++;
    if (c.amInterested || c.wanted === 0) return;
    c.amInterested = true;
    c.send((r) => r.node.onInterested(r, true));
    this.fillRequests(c);
  }

  private lostInterest(index: number): void {
    for (const c of this.conns.values()) {
      if (!(c.peerHasAll || c.have.has(index))) continue;
      if (--c.wanted > 0 || !c.amInterested) continue;
      c.wanted = countWanted(this.picker, c);
      if (c.wanted > 0) continue;
      c.amInterested = false;
      c.send((r) => r.node.onInterested(r, false));
    }
  }

  onInterested(c: SimConn, interested: boolean): void {
    c.peerInterested = interested;
    if (interested && c.amChoking && this.choker.hasFreeSlot([...this.conns.values()].map(candidate))) this.setChoke(c, false);
    if (!interested && !c.amChoking) {
      // As torrent.ts: its slot goes to a peer that waits for one now.
      const next = this.choker.nextToUnchoke([...this.conns.values()].map(candidate), this.done);
      const nc = next === null ? undefined : this.conns.get(next);
      if (nc) this.setChoke(nc, false);
    }
  }

  onChoke(c: SimConn, choked: boolean): void {
    c.peerChoking = choked;
    if (!choked) this.fillRequests(c);
  }

  onRequests(c: SimConn, reqs: readonly BlockRequest[]): void {
    const rejected: BlockRequest[] = [];
    for (const r of reqs) {
      if (c.amChoking || !this.picker.have(r.index)) rejected.push(r);
      else c.uploadQueue.push(r);
    }
    if (rejected.length) c.send((rc) => rc.node.onRejects(rc, rejected));
    if (c.uploadQueue.length) this.uplink.wake(c);
  }

  onRejects(c: SimConn, reqs: readonly BlockRequest[]): void {
    for (const r of reqs) {
      c.inflight = Math.max(0, c.inflight - 1);
      this.picker.requestFailed(c.key, r);
    }
    this.fillRequests(c);
  }

  onCancel(c: SimConn, r: BlockRequest): void {
    const i = c.uploadQueue.findIndex((q) => q.index === r.index && q.begin === r.begin);
    if (i >= 0) c.uploadQueue.splice(i, 1);
  }

  onBlock(c: SimConn, r: BlockRequest): void {
    if (this.picker.have(r.index)) return;
    c.lastBlockAt = this.lastPeerBlockAt = this.world.clock.now();
    c.snubbed = false;
    c.down.add(r.length);
    c.inflight = Math.max(0, c.inflight - 1);
    if (this.acceptBlock(c.key, r)) this.bytesFromPeers += r.length;
    this.fillRequests(c);
  }

  private setChoke(c: SimConn, choke: boolean): void {
    if (c.amChoking === choke) return;
    c.amChoking = choke;
    if (choke) {
      const rejected = c.uploadQueue.splice(0);
      c.send((r) => {
        r.node.onChoke(r, true);
        if (rejected.length) r.node.onRejects(r, rejected);
      });
    } else {
      c.send((r) => r.node.onChoke(r, false));
      if (c.uploadQueue.length) this.uplink.wake(c);
    }
  }

  private rechoke(): void {
    const conns = [...this.conns.values()];
    const unchoke = this.choker.decide(conns.map(candidate), this.done);
    for (const c of conns) this.setChoke(c, !unchoke.has(c.key));
  }

  // ---- downloading ----

  private fillRequests(c: SimConn): void {
    if (c.closed || !c.amInterested || c.peerChoking || this.done) return;
    if (c.inflight === 0) c.lastBlockAt = this.world.clock.now();
    const want = requestsToAdd(c.inflight, queueDepth(c.down.rate(), REQQ, c.snubbed));
    if (want === 0) return;
    const reqs = this.picker.pick(c.key, want, { choked: false });
    if (reqs.length === 0) return;
    c.inflight += reqs.length;
    c.send((r) => r.node.onRequests(r, reqs));
  }

  /** A block from a peer or the origin; false for a duplicate. */
  private acceptBlock(key: string, r: BlockRequest): boolean {
    const receipt = this.picker.blockReceived(key, r);
    if (receipt.duplicate) return false;
    for (const other of receipt.cancelFrom) {
      const oc = this.conns.get(other);
      if (oc) {
        oc.send((rc) => rc.node.onCancel(rc, r));
        oc.inflight = Math.max(0, oc.inflight - 1);
      }
    }
    if (receipt.pieceComplete) this.world.clock.after(0, () => this.finishPiece(r.index));
    return true;
  }

  private finishPiece(index: number): void {
    if (this.picker.have(index)) return;
    const wanted = this.picker.wants(index);
    this.picker.markHave(index);
    if (wanted) this.lostInterest(index);
    const to: SimConn[] = [];
    for (const c of this.conns.values()) if (!c.have.has(index)) to.push(c.remote);
    if (to.length) {
      this.world.clock.after(this.world.latencyMs, () => {
        for (const r of to) if (!r.closed) r.node.onHave(r, index);
      });
    }
    this.checkDone();
  }

  private checkDone(): void {
    if (this.done || !this.picker.isDone()) return;
    this.doneAt = this.world.clock.now();
    for (const c of [...this.conns.values()]) {
      if (c.amInterested) {
        c.amInterested = false;
        c.send((r) => r.node.onInterested(r, false));
      }
      if (c.peerHasAll) this.close(c);
    }
    if (this.conns.size) this.rechoke();
    if (this.webActive) {
      this.webActive = false;
      this.picker.peerGone(WEB);
    }
    this.world.nodeDone(this);
  }

  private tick(): void {
    this.fillConnections();
    const t = this.world.clock.now();
    for (const c of this.conns.values()) {
      if (!c.snubbed && c.inflight > 0 && t - c.lastBlockAt > SNUB_MS) {
        c.snubbed = true;
        for (const r of this.picker.outstanding(c.key)) this.picker.requestFailed(c.key, r);
        c.inflight = 0;
      }
      this.fillRequests(c);
    }
    this.sendPex(t);
    for (const c of this.conns.values()) {
      if (c.membersSentAt !== null && t - c.membersSentAt >= MEMBERS_INTERVAL_MS) this.sendMembers(c);
    }
  }

  /** Our neighbours that still download (and so fetch from the origin), as engine/torrent.ts sends them. */
  private neighboursFetching(): SimConn[] {
    return [...this.conns.values()].filter((c) => !c.peerHasAll);
  }

  private sendMembers(c: SimConn): void {
    c.membersSentAt = this.world.clock.now();
    if (this.done) return;
    const ids = this.neighboursFetching().filter((o) => o !== c).slice(0, MAX_REPORTED_MEMBERS).map((o) => o.peer.id);
    c.send((r) => r.node.members.report(ids));
  }

  private fetchingPeers(): Uint8Array[] {
    const direct: Uint8Array[] = this.neighboursFetching().map((c) => c.peer.id);
    const exclude = new Set<string>([this.id.toString('hex')]);
    for (const c of this.conns.values()) exclude.add(c.peer.id.toString('hex'));
    return direct.concat(this.members.ids(exclude));
  }

  /** BEP 11 as torrent.ts sends it: 2 s after a connection opens, then once a minute. */
  private sendPex(t: number): void {
    const due = [...this.conns.values()].filter((c) => (c.pexSentAt === null ? t - c.connectedAt >= FIRST_PEX_MS : t - c.pexSentAt >= PEX_INTERVAL_MS));
    if (due.length === 0) return;
    const list = [...this.conns.values()].slice(0, MAX_PEX_PEERS).map((c) => c.peer);
    for (const c of due) {
      c.pexSentAt = t;
      const added = list.filter((p) => p !== c.peer);
      c.send((r) => r.node.onPex(added));
    }
  }

  onPex(added: readonly SimNode[]): void {
    for (const p of added.slice(0, MAX_PEX_PEERS)) if (p !== this) this.peers.add(p.host, PORT, 'pex');
    this.fillConnections();
  }

  // ---- the origin (web-seed.ts's loop on one connection slot) ----

  private webLoop(slot: number, rate: number): void {
    if (!this.webActive) return;
    const clock = this.world.clock;
    const run = slot < this.rules.slots(this.world.originConnections)
      ? pickRun(this.picker, WEB, this.world, runLimit(rate, this.world.pieceLength, Math.min(MAX_RUN_BYTES, this.rules.maxRunBytes())), (i) => this.rules.accept(i))
      : [];
    if (run.length === 0) {
      clock.after(IDLE_POLL_MS, () => this.webLoop(slot, rate));
      return;
    }
    const began = clock.now();
    let left = run.length;
    let bytes = 0;
    this.world.originFetch(this, run, (r) => {
      bytes += r.length;
      if (this.webActive && !this.picker.have(r.index) && this.acceptBlock(WEB, r)) {
        this.bytesFromOrigin += r.length;
        this.originPieces.add(r.index);
      }
      if (--left === 0) this.webLoop(slot, bytes / Math.max(0.001, (clock.now() - began) / 1000));
    });
  }

  /** The origin stops sending a run to a node that is done (the real client aborts the request). */
  get wantsOrigin(): boolean {
    return this.webActive;
  }
}
