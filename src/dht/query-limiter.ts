/**
 * The inbound rate limit of a DHT node: how many queries per second it answers from one source,
 * and in all. A DHT node answers anyone, so without it one machine could make us spend our upload
 * answering it, or use us to reflect traffic at a forged source address.
 *
 * For: the yes/no on each incoming query, and counters for status. Not for: outgoing queries or
 * the byte rate limits of transfers (engine/rate-limit.ts). No timers and no I/O: buckets refill
 * from the injected clock when they are next used.
 *
 * One token bucket per source and one global bucket; a query needs a token from both. A query
 * its source's bucket refuses takes nothing from the global one, so a flood from one source uses
 * up only its own allowance and everyone else keeps theirs. The global bucket caps what many
 * sources together (or one source rotating addresses) can get.
 *
 * Sources: an IPv4 address, or an IPv6 /64. One machine usually owns a whole /64, so limiting
 * IPv6 by address would give it 2^64 buckets. A host that is not an IP literal (a name in a
 * simulation) is its own source.
 *
 * Memory: at most `maxSources` buckets, the least recently seen dropped first, in O(1): a
 * RecencyMap (recency-map.ts; the peer and item stores use it too), since with a plain Map each drop would
 * cost O(maxSources) under a flood, just when the limiter must be cheapest. A source seen again
 * after being dropped starts with a full bucket, which loses nothing if it was quiet long enough
 * to refill (burst / rate seconds); one that keeps querying, even refused, stays recent and is not
 * dropped.
 */
import { ipToBytes, unmapIpv4 } from '../codec/tracker.js';
import { SeedbankError } from '../errors.js';
import { RecencyMap } from './recency-map.js';

/** Queries per second answered from one source, on average. */
export const DEFAULT_SOURCE_RATE = 20;
/** Queries one source may send at once after a quiet spell (a lookup asks in bursts). */
export const DEFAULT_SOURCE_BURST = 50;
/** Queries per second answered in all. */
export const DEFAULT_GLOBAL_RATE = 500;
export const DEFAULT_GLOBAL_BURST = 1_000;
/** Sources whose buckets are remembered. */
export const DEFAULT_MAX_SOURCES = 10_000;

/** Why a query was refused: its source's bucket was empty, or the global one was. */
export type RefusalReason = 'source' | 'global';

export interface QueryLimiterOptions {
  /** The clock, in ms. */
  now: () => number;
  /** @default DEFAULT_SOURCE_RATE (20 per second) */
  sourceRate?: number;
  /** @default DEFAULT_SOURCE_BURST (50) */
  sourceBurst?: number;
  /** @default DEFAULT_GLOBAL_RATE (500 per second) */
  globalRate?: number;
  /** @default DEFAULT_GLOBAL_BURST (1,000) */
  globalBurst?: number;
  /** @default DEFAULT_MAX_SOURCES (10,000) */
  maxSources?: number;
}

/** Counters since the limiter was made, for status. */
export interface QueryLimiterStats {
  allowed: number;
  refused: Record<RefusalReason, number>;
  /** Sources with a bucket now. */
  sources: number;
  /** Buckets dropped to stay within maxSources. */
  dropped: number;
}

export class QueryLimiterError extends SeedbankError {
  override name = 'QueryLimiterError';
  constructor(message: string) {
    super('QUERY_LIMITER_INVARIANT', message);
  }
}

interface Bucket {
  readonly key: string;
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

export class QueryLimiter {
  private readonly now: () => number;
  readonly sourceRate: number;
  readonly sourceBurst: number;
  readonly globalRate: number;
  readonly globalBurst: number;
  readonly maxSources: number;
  /** By source key, least recently seen first. */
  private readonly buckets = new RecencyMap<Bucket>();
  private readonly global: Bucket;
  private latest: number;
  private allowed = 0;
  private readonly refused: Record<RefusalReason, number> = { source: 0, global: 0 };
  private dropped = 0;

  constructor(options: QueryLimiterOptions) {
    this.now = options.now;
    this.sourceRate = options.sourceRate ?? DEFAULT_SOURCE_RATE;
    this.sourceBurst = options.sourceBurst ?? DEFAULT_SOURCE_BURST;
    this.globalRate = options.globalRate ?? DEFAULT_GLOBAL_RATE;
    this.globalBurst = options.globalBurst ?? DEFAULT_GLOBAL_BURST;
    this.maxSources = options.maxSources ?? DEFAULT_MAX_SOURCES;
    for (const [name, v] of [
      ['sourceRate', this.sourceRate],
      ['globalRate', this.globalRate],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} ${v} is not a positive number`);
    }
    // A burst under one would refuse everything; non-integers would make "at most burst at once" fuzzy.
    for (const [name, v] of [
      ['sourceBurst', this.sourceBurst],
      ['globalBurst', this.globalBurst],
      ['maxSources', this.maxSources],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} ${v} is not a positive integer`);
    }
    this.latest = this.now();
    this.global = { key: 'global', tokens: this.globalBurst, at: this.latest };
  }

  /** Whether to answer a query from `host` now; if so, it is counted against the source and in all. */
  allow(host: string): boolean {
    const t = this.tick();
    const key = sourceKey(host);
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) this.dropOldest();
      b = { key, tokens: this.sourceBurst, at: t };
    }
    // Touched even when refused: a source that keeps sending stays the most recent, so it
    // cannot shed its empty bucket by being dropped.
    this.buckets.touch(key, b);
    refill(b, t, this.sourceRate, this.sourceBurst);
    refill(this.global, t, this.globalRate, this.globalBurst);
    if (b.tokens < 1) return this.refuse('source');
    if (this.global.tokens < 1) return this.refuse('global');
    b.tokens -= 1;
    this.global.tokens -= 1;
    this.allowed++;
    return true;
  }

  /** Sources with a bucket now (at most maxSources). */
  get sources(): number {
    return this.buckets.size;
  }

  stats(): QueryLimiterStats {
    return { allowed: this.allowed, refused: { ...this.refused }, sources: this.buckets.size, dropped: this.dropped };
  }

  /**
   * Throws QueryLimiterError if the limiter is inconsistent: more buckets than maxSources, a bucket
   * with tokens outside 0..burst, or a bucket updated later than the latest time seen. For tests.
   */
  checkInvariants(): void {
    const fail = (what: string): never => {
      throw new QueryLimiterError(`query limiter: ${what}`);
    };
    if (this.buckets.size > this.maxSources) fail(`${this.buckets.size} buckets; the cap is ${this.maxSources}`);
    const check = (name: string, b: Bucket, burst: number) => {
      if (!(b.tokens >= 0 && b.tokens <= burst)) fail(`${name} holds ${b.tokens} tokens; the burst is ${burst}`);
      if (b.at > this.latest) fail(`${name} was updated at ${b.at}, after the latest time ${this.latest}`);
    };
    const broken = this.buckets.brokenLinks();
    if (broken !== null) fail(broken);
    check('the global bucket', this.global, this.globalBurst);
    for (const [key, b] of this.buckets.entries()) {
      if (b.key !== key) fail(`the bucket of ${b.key} is filed under ${key}`);
      check(`the bucket of ${key}`, b, this.sourceBurst);
    }
  }

  // -------------------------------------------------------------------------------------------

  /** The clock, never running backwards: a step back would otherwise take tokens away. */
  private tick(): number {
    this.latest = Math.max(this.latest, this.now());
    return this.latest;
  }

  private refuse(reason: RefusalReason): false {
    this.refused[reason]++;
    return false;
  }

  private dropOldest(): void {
    const oldest = this.buckets.oldest();
    if (oldest !== undefined && this.buckets.delete(oldest.key)) this.dropped++;
  }
}

function refill(b: Bucket, t: number, rate: number, burst: number): void {
  b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
  b.at = t;
}

/** The key of the source a host belongs to: an IPv4 address, an IPv6 /64, or a name as given. */
function sourceKey(host: string): string {
  const ip = ipToBytes(unmapIpv4(host));
  if (ip === null) return `name ${host}`;
  if (ip.length === 4) return ip.join('.');
  // IPv4-mapped IPv6 in its long form is still one IPv4 address.
  if (ip.subarray(0, 10).every((x) => x === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.subarray(12).join('.');
  return `${Buffer.from(ip.subarray(0, 8)).toString('hex')}/64`;
}
