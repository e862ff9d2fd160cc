/**
 * One egress cap shared by every response of an origin: a token bucket (src/engine/rate-limit.ts)
 * with a first-come, first-served queue in front of it.
 *
 * For: src/origin/http-origin.ts, so that two downloads under a 10 MB/s cap get about 5 MB/s each
 * and 10 MB/s together. Not for: per-connection caps or priorities.
 *
 * Why a queue rather than each response calling `take` and sleeping on its own: a bucket that lets
 * its balance go negative hands out waits that grow with the debt, and a sender that wakes early
 * (a short chunk) would jump the line. Here one waiter at a time pays for its chunk and waits out
 * the debt; the others queue behind it, so senders alternate and the cap stays smooth. At most one
 * timer is pending, so `close()` has exactly one thing to clear.
 */
import { TokenBucket } from '../engine/rate-limit.js';

/** Most bytes that may go at once after a quiet spell: 50 ms worth (at least 16 KiB). */
export const EGRESS_BURST_SECONDS = 0.05;

/** The timers the limiter uses; tests pass fakes driven by the same clock as `now`. */
export interface LimiterTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: LimiterTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Rejects the waiters still queued when the origin closes. */
export class LimiterClosedError extends Error {
  override name = 'LimiterClosedError';
  constructor() {
    super('egress limiter closed');
  }
}

interface Waiter {
  bytes: number;
  resolve(): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class EgressLimiter {
  private readonly bucket: TokenBucket;
  private readonly queue: Waiter[] = [];
  /** The waiter that has paid for its bytes and waits for the bucket to come out of debt. */
  private paid: Waiter | null = null;
  private timer: unknown = null;
  private closed = false;

  constructor(
    bytesPerSec: number,
    now: () => number = Date.now,
    private readonly timers: LimiterTimers = REAL_TIMERS,
  ) {
    this.bucket = new TokenBucket(bytesPerSec, now, EGRESS_BURST_SECONDS);
  }

  /** Bytes per second; 0 = no cap. */
  get rate(): number {
    return this.bucket.limit;
  }

  /**
   * Resolves when `bytes` may be sent. Rejects with the signal's reason if `signal` aborts first
   * (the client went away), or with `LimiterClosedError` on `close()`.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new LimiterClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.rate <= 0 && this.paid === null && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { bytes, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => this.drop(w, signal.reason);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.pump();
    });
  }

  /** Changes the cap at once, also for the waiter that has already paid (0 releases everyone). */
  setRate(bytesPerSec: number): void {
    this.bucket.take(0); // credit the time since the last refill at the old rate
    this.bucket.setRate(bytesPerSec);
    if (this.paid !== null) {
      this.cancelTimer();
      this.waitOutDebt(this.paid);
    }
    this.pump();
  }

  /** Clears the timer and rejects every waiter. Later `acquire` calls reject at once. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
    const all = this.paid === null ? this.queue.splice(0) : [this.paid, ...this.queue.splice(0)];
    this.paid = null;
    for (const w of all) this.settle(w, new LimiterClosedError());
  }

  private pump(): void {
    while (this.paid === null && this.queue.length > 0) {
      const w = this.queue.shift()!;
      this.bucket.take(w.bytes);
      this.waitOutDebt(w);
    }
  }

  /** Grants `w` if the bucket is out of debt, or else makes it the paid waiter until it is. */
  private waitOutDebt(w: Waiter): void {
    const ms = this.bucket.take(0);
    if (ms <= 0) {
      this.paid = null;
      this.settle(w);
      return;
    }
    this.paid = w;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.paid = null;
      this.settle(w);
      this.pump();
    }, ms);
  }

  private drop(w: Waiter, reason: unknown): void {
    if (this.paid === w) {
      this.cancelTimer();
      this.paid = null;
    } else {
      const i = this.queue.indexOf(w);
      if (i < 0) return;
      this.queue.splice(i, 1);
    }
    this.settle(w, reason);
    this.pump();
  }

  private settle(w: Waiter, err?: unknown): void {
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    if (err === undefined) w.resolve();
    else w.reject(err);
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
