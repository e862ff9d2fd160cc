/**
 * A host's upload link in the simulator: one block on the wire at a time at the link's rate, the
 * streams that have data served in turn, 16 KiB each (what TCP's fair sharing of one bottleneck
 * among connections comes to at that granularity). A block reaches its receiver one latency after
 * its last byte left, plus the time the receiver's download link needs for it when that is capped.
 */
import { type SimClock } from './clock.js';

export interface UplinkStream {
  /** The next block to send, or null when the stream has nothing to send now. */
  next(): { bytes: number; sent: () => void } | null;
  /** Linked into the uplink's ring; maintained by the uplink. */
  queued: boolean;
}

export class Uplink {
  private readonly ring: UplinkStream[] = [];
  private head = 0;
  busy = false;
  bytesSent = 0;

  constructor(
    private readonly clock: SimClock,
    /** Bytes per second. */
    readonly rate: number,
  ) {}

  /** The stream has data now: it takes its turns until it runs dry. */
  wake(s: UplinkStream): void {
    if (!s.queued) {
      s.queued = true;
      this.ring.push(s);
    }
    if (!this.busy) this.sendNext();
  }

  private sendNext(): void {
    while (this.head < this.ring.length) {
      const s = this.ring[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.ring.length) {
        this.ring.splice(0, this.head);
        this.head = 0;
      }
      const b = s.next();
      if (!b) {
        s.queued = false;
        continue;
      }
      this.busy = true;
      this.clock.after((b.bytes / this.rate) * 1000, () => {
        this.busy = false;
        this.bytesSent += b.bytes;
        this.ring.push(s); // its next turn comes after the streams that waited meanwhile
        b.sent();
        this.sendNext();
      });
      return;
    }
  }
}

/** A download link: blocks queue behind each other when it is capped (rate Infinity: never). */
export class Downlink {
  private freeAt = 0;
  constructor(readonly rate: number) {}

  /** When a block of `bytes` whose first byte arrives at `t` is fully received. */
  arrival(t: number, bytes: number): number {
    if (!Number.isFinite(this.rate)) return t;
    const start = Math.max(t, this.freeAt);
    this.freeAt = start + (bytes / this.rate) * 1000;
    return this.freeAt;
  }
}
