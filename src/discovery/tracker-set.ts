/**
 * The trackers of one torrent, in BEP 12 tiers, and when to announce to them.
 *
 * For: a torrent that wants peers from its `announce-list`. Events are BEP 3's: `started` on the
 * first announce to each tracker, `completed` once when the download finishes (never for a torrent
 * that started complete), `stopped` to every tracker that saw us when the set is closed.
 * Not for: the exchange itself (tracker-client.ts), which is injected, as is the clock, so tests
 * drive re-announce intervals and failover without waiting.
 *
 * BEP 12: each tier is shuffled once; trackers in a tier are tried in order; one that answers moves
 * to the front of its tier; when a whole tier fails, the next tier is tried. When every tracker
 * fails the set waits `retrySeconds · 2^(failures−1)` (at most an hour) and starts over from the
 * first tier.
 */
import { EventEmitter } from 'node:events';
import { type TrackerEvent, newTransactionId } from '../codec/tracker.js';
import { type AnnounceOptions, type AnnounceParams, type AnnounceResult, announce as defaultAnnounce } from './tracker-client.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type AnnounceFn = (url: string, params: AnnounceParams, opts: AnnounceOptions) => Promise<AnnounceResult>;

export interface TrackerSetComponents {
  /** @default the shared client of tracker-client.ts */
  announce?: AnnounceFn;
  /** @default systemClock */
  clock?: Clock;
}

export interface TrackerSetInit {
  /** `announce-list` tiers (a lone `announce` URL is one tier of one). */
  tiers: readonly (readonly string[])[];
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Our listening port. */
  port: number;
  /** Transfer totals at the moment of each announce. */
  stats: () => { uploaded: number; downloaded: number; left: number };
  /** @default 50 */
  numwant?: number;
  /** @default a random 32-bit number */
  key?: number;
  /** Per tracker and attempt. @default 30,000 ms */
  timeoutMs?: number;
  /** Never re-announce sooner than this, whatever a tracker says. @default 30 s */
  minIntervalSeconds?: number;
  /** First wait after every tracker failed; doubles per failed round, up to an hour. @default 60 s */
  retrySeconds?: number;
  /** How long `close()` waits for `stopped` to be delivered. @default 5,000 ms */
  closeTimeoutMs?: number;
  /** Shuffle each tier once, as BEP 12 says. Tests turn it off. @default true */
  shuffle?: boolean;
}

export interface TrackerSetEvents {
  'tracker:announced': [{ url: string; event: TrackerEvent; result: AnnounceResult }];
  'tracker:failed': [{ url: string; event: TrackerEvent; error: Error }];
  /** Every tracker failed; the next round is in `retryInMs`. */
  'tracker:exhausted': [{ retryInMs: number }];
}

const MAX_INTERVAL_S = 24 * 3600;
const MAX_RETRY_S = 3600;

export class TrackerSet extends EventEmitter<TrackerSetEvents> {
  private readonly announceFn: AnnounceFn;
  private readonly clock: Clock;
  private readonly tiers: string[][];
  private readonly key: number;
  /** Trackers that have seen us (a `started` or `completed` they answered). */
  private readonly seenBy = new Set<string>();
  private readonly trackerIds = new Map<string, Uint8Array>();
  private completedPending = false;
  private completedDone = false;
  private timer: unknown = null;
  private current: Promise<void> | null = null;
  private again = false;
  private failures = 0;
  private state: 'new' | 'running' | 'closed' = 'new';
  private readonly abort = new AbortController();
  private closing: Promise<void> | null = null;
  /** When the next regular announce is due (clock time), or null. */
  nextAnnounceAt: number | null = null;

  constructor(components: TrackerSetComponents, private readonly init: TrackerSetInit) {
    super();
    this.announceFn = components.announce ?? defaultAnnounce;
    this.clock = components.clock ?? systemClock;
    this.key = init.key ?? newTransactionId();
    this.tiers = init.tiers.map((t) => (init.shuffle === false ? [...t] : shuffle([...t]))).filter((t) => t.length > 0);
  }

  /** The tiers in their current order (a tracker that answered is first in its tier). */
  get order(): string[][] {
    return this.tiers.map((t) => [...t]);
  }

  /** Announces `started`; resolves when that first round is over (answered or failed everywhere). */
  start(): Promise<void> {
    if (this.state !== 'new') return this.current ?? Promise.resolve();
    this.state = 'running';
    // A torrent that starts complete never sends `completed` (BEP 3).
    if (this.init.stats().left === 0) this.completedDone = true;
    return this.announceNow();
  }

  /** The download finished: announce `completed` now (once per set). */
  completed(): Promise<void> {
    if (this.state !== 'running' || this.completedDone) return Promise.resolve();
    this.completedDone = true;
    this.completedPending = true;
    return this.announceNow();
  }

  /** Runs a round now; if one is running, another follows it. Resolves when the round is over. */
  announceNow(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (this.current) {
      this.again = true;
      return this.current.then(() => this.idle());
    }
    this.clearTimer();
    this.current = this.round().finally(() => {
      this.current = null;
      if (this.again && this.state === 'running') {
        this.again = false;
        void this.announceNow();
      }
    });
    return this.current;
  }

  /** Resolves when no round is running. */
  async idle(): Promise<void> {
    while (this.current) await this.current;
  }

  /** Stops re-announcing and tells every tracker that saw us `stopped` (bounded by closeTimeoutMs). */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    this.clearTimer();
    this.abort.abort();
    await this.current?.catch(() => {});
    if (!wasRunning) return;
    const timeoutMs = this.init.closeTimeoutMs ?? 5000;
    await Promise.all(
      [...this.seenBy].map(async (url) => {
        try {
          const result = await this.announceFn(url, this.params(url, 'stopped'), { timeoutMs });
          this.emit('tracker:announced', { url, event: 'stopped', result });
        } catch (e) {
          this.emit('tracker:failed', { url, event: 'stopped', error: e as Error });
        }
      }),
    );
  }

  private eventFor(url: string): TrackerEvent {
    if (this.completedPending) return 'completed';
    return this.seenBy.has(url) ? 'none' : 'started';
  }

  private params(url: string, event: TrackerEvent): AnnounceParams {
    const s = this.init.stats();
    const p: AnnounceParams = {
      infoHash: this.init.infoHash,
      peerId: this.init.peerId,
      port: this.init.port,
      uploaded: s.uploaded,
      downloaded: s.downloaded,
      left: s.left,
      event,
      numwant: event === 'stopped' ? 0 : (this.init.numwant ?? 50),
      key: this.key,
    };
    const tid = this.trackerIds.get(url);
    if (tid) p.trackerId = tid;
    return p;
  }

  private async round(): Promise<void> {
    for (const tier of this.tiers) {
      for (let i = 0; i < tier.length; i++) {
        const url = tier[i]!;
        const event = this.eventFor(url);
        let result: AnnounceResult;
        try {
          result = await this.announceFn(url, this.params(url, event), { signal: this.abort.signal, timeoutMs: this.init.timeoutMs ?? 30_000 });
        } catch (e) {
          if (this.state !== 'running') return;
          this.emit('tracker:failed', { url, event, error: e as Error });
          continue;
        }
        if (this.state !== 'running') return;
        this.seenBy.add(url);
        if (event === 'completed') this.completedPending = false;
        if (result.trackerId) this.trackerIds.set(url, result.trackerId);
        tier.splice(i, 1);
        tier.unshift(url);
        this.failures = 0;
        const floor = this.init.minIntervalSeconds ?? 30;
        this.schedule(1000 * Math.min(MAX_INTERVAL_S, Math.max(result.interval, result.minInterval ?? 0, floor)));
        this.emit('tracker:announced', { url, event, result });
        return;
      }
    }
    if (this.state !== 'running') return;
    this.failures++;
    const retryInMs = 1000 * Math.min(MAX_RETRY_S, (this.init.retrySeconds ?? 60) * 2 ** Math.min(this.failures - 1, 16));
    this.schedule(retryInMs);
    this.emit('tracker:exhausted', { retryInMs });
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.nextAnnounceAt = this.clock.now() + ms;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.announceNow();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.nextAnnounceAt = null;
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
