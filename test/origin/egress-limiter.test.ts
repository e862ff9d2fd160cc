/**
 * The origin's shared egress limiter on a simulated clock: the cap holds for all senders together,
 * senders take turns, and setRate, abort and close release or reject waiters without a stray timer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EGRESS_BURST_SECONDS, EgressLimiter, LimiterClosedError, type LimiterTimers } from '../../src/origin/egress-limiter.js';

/** A clock and timers that move only when the test says so. */
class FakeTime implements LimiterTimers {
  t = 0;
  private nextId = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  readonly now = () => this.t;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  get timers(): number {
    return this.pending.size;
  }
  /** Moves to the earliest timer and runs it; false if none is pending. */
  fireNext(): boolean {
    let best: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.pending) if (!best || e[1].at < best[1].at) best = e;
    if (!best) return false;
    this.pending.delete(best[0]);
    this.t = Math.max(this.t, best[1].at);
    best[1].fn();
    return true;
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const CHUNK = 64 * 1024;

/** Runs the fake clock until `done` settles; throws if nothing is pending before that (a hang). */
async function drive(time: FakeTime, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.finally(() => (finished = true));
  for (let i = 0; i < 100_000; i++) {
    await flush();
    if (finished) return;
    if (!time.fireNext()) throw new Error('limiter hangs: waiters left and no timer pending');
  }
  throw new Error('drive: too many steps');
}

describe('egress limiter', () => {
  it('holds the cap for two senders together and lets them take turns', async () => {
    const time = new FakeTime();
    const rate = 1024 * 1024;
    const lim = new EgressLimiter(rate, time.now, time);
    const grants: Array<{ t: number; who: string }> = [];
    const sender = async (who: string, bytes: number) => {
      for (let sent = 0; sent < bytes; sent += CHUNK) {
        await lim.acquire(CHUNK);
        grants.push({ t: time.t, who });
      }
    };
    const each = 1024 * 1024;
    await drive(time, Promise.all([sender('a', each), sender('b', each)]));

    assert.equal(grants.length, (2 * each) / CHUNK);
    const burst = Math.max(16384, rate * EGRESS_BURST_SECONDS);
    // Bytes granted by time t never exceed the burst, one chunk paid in advance and t's worth.
    grants.forEach((g, i) => {
      const granted = (i + 1) * CHUNK;
      assert.ok(granted <= burst + CHUNK + (rate * g.t) / 1000, `at ${g.t} ms: ${granted} bytes`);
    });
    const last = grants.at(-1)!.t;
    assert.ok(last >= ((2 * each - burst - CHUNK) / rate) * 1000, `2 MiB at 1 MiB/s in ${last} simulated ms`);
    assert.ok(last <= ((2 * each) / rate) * 1000 + 10, `no idle gaps: ${last} simulated ms`);
    // Turns: in every window of four grants both senders appear.
    for (let i = 0; i + 4 <= grants.length; i++) {
      const who = new Set(grants.slice(i, i + 4).map((g) => g.who));
      assert.equal(who.size, 2, `grants ${i}..${i + 3}`);
    }
    assert.equal(time.timers, 0);
  });

  it('waits out the debt: a chunk beyond the burst waits size/rate', async () => {
    const time = new FakeTime();
    const lim = new EgressLimiter(100_000, time.now, time);
    await lim.acquire(16384); // the whole burst (16 KiB is the floor)
    let granted = false;
    void lim.acquire(10_000).then(() => (granted = true));
    await flush();
    assert.equal(granted, false, 'a second chunk must wait');
    assert.equal(time.timers, 1);
    time.t += 99; // 10,000 bytes at 100,000 B/s is 100 ms
    await flush();
    assert.equal(granted, false);
    assert.ok(time.fireNext());
    await flush();
    assert.equal(granted, true);
    assert.ok(time.t >= 100 && time.t <= 101, `granted at ${time.t} ms`);
  });

  it('0 means no cap, and setRate(0) releases every waiter at once', async () => {
    const time = new FakeTime();
    const free = new EgressLimiter(0, time.now, time);
    for (let i = 0; i < 100; i++) await free.acquire(CHUNK);
    assert.equal(time.timers, 0);

    const lim = new EgressLimiter(1000, time.now, time);
    const waits = [lim.acquire(CHUNK), lim.acquire(CHUNK), lim.acquire(CHUNK)];
    await flush();
    assert.equal(time.timers, 1, 'one timer, for the waiter that paid');
    lim.setRate(0);
    await Promise.all(waits);
    assert.equal(time.timers, 0);
  });

  it('a higher rate shortens the wait of the waiter that already paid', async () => {
    const time = new FakeTime();
    const lim = new EgressLimiter(1000, time.now, time);
    await lim.acquire(16384);
    let granted = false;
    void lim.acquire(10_000).then(() => (granted = true));
    await flush();
    lim.setRate(1_000_000);
    assert.ok(time.fireNext());
    await flush();
    assert.equal(granted, true);
    assert.ok(time.t <= 20, `granted at ${time.t} ms, not after 10 s`);
  });

  it('abort takes a waiter out of the line; close rejects the rest and clears the timer', async () => {
    const time = new FakeTime();
    const lim = new EgressLimiter(1000, time.now, time);
    await lim.acquire(16384);
    const paidAbort = new AbortController();
    const queuedAbort = new AbortController();
    const paid = lim.acquire(1000, paidAbort.signal);
    const queued = lim.acquire(1000, queuedAbort.signal);
    const last = lim.acquire(1000);
    await flush();
    queuedAbort.abort();
    await assert.rejects(queued, { name: 'AbortError' });
    paidAbort.abort();
    await assert.rejects(paid, { name: 'AbortError' });
    assert.equal(time.timers, 1, 'the next waiter paid and waits');
    lim.close();
    await assert.rejects(last, LimiterClosedError);
    assert.equal(time.timers, 0);
    await assert.rejects(lim.acquire(1), LimiterClosedError);
  });
});
