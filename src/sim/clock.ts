/**
 * A discrete-event clock: simulated milliseconds that advance only from one scheduled event to the
 * next, so a swarm of a thousand nodes runs in one process, as fast as the CPU allows, and the
 * same inputs give the same run. Events at the same instant run in the order they were scheduled.
 */
export interface SimEvent {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | null;
}

export class SimClock {
  private t = 0;
  private seq = 0;
  private readonly heap: SimEvent[] = [];
  /** Events run so far. */
  executed = 0;

  now = (): number => this.t;

  /** Runs `fn` at simulated time `at` (never in the past). */
  at(at: number, fn: () => void): SimEvent {
    const e: SimEvent = { at: Math.max(at, this.t), seq: this.seq++, fn };
    this.push(e);
    return e;
  }

  after(ms: number, fn: () => void): SimEvent {
    return this.at(this.t + ms, fn);
  }

  /** Runs `fn` every `ms` from `first` on, until the returned function is called. */
  every(ms: number, fn: () => void, first = ms): () => void {
    let ev: SimEvent | null = null;
    const tick = () => {
      ev = this.after(ms, tick);
      fn();
    };
    ev = this.after(first, tick);
    return () => {
      if (ev) ev.fn = null;
    };
  }

  cancel(e: SimEvent | null | undefined): void {
    if (e) e.fn = null;
  }

  get pending(): number {
    return this.heap.length;
  }

  /**
   * Runs events in time order until `done()` holds, no event is left, simulated time passes
   * `untilMs`, or `maxEvents` have run. Returns why it stopped.
   */
  run(opts: { untilMs: number; maxEvents: number; done?: () => boolean }): 'done' | 'idle' | 'time' | 'events' {
    let n = 0;
    while (this.heap.length) {
      if (opts.done?.()) return 'done';
      if (n >= opts.maxEvents) return 'events';
      const e = this.pop()!;
      if (e.at > opts.untilMs) {
        this.push(e);
        return 'time';
      }
      this.t = e.at;
      const fn = e.fn;
      if (!fn) continue;
      e.fn = null;
      n++;
      this.executed++;
      fn();
    }
    return opts.done?.() ? 'done' : 'idle';
  }

  private less(a: SimEvent, b: SimEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: SimEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A small seedable PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
