/**
 * Token buckets for upload and download rate limits, on an injected clock. A limit of 0 means
 * unlimited. Buckets chain (a torrent's limit, then the session's), so a transfer waits for the
 * stricter of the two.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private rate: number,
    private readonly now: () => number = Date.now,
    /** Most bytes that may go at once after a quiet spell: 0.25 s worth, at least one block. */
    private readonly burstSeconds = 0.25,
  ) {
    this.tokens = this.burst;
    this.last = now();
  }

  private get burst(): number {
    return Math.max(16384, this.rate * this.burstSeconds);
  }

  get limit(): number {
    return this.rate;
  }

  setRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
    this.tokens = Math.min(this.tokens, this.burst);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** Takes `n` bytes (the balance may go negative); returns how long to wait before the next use, in ms. */
  take(n: number): number {
    if (this.rate <= 0) return 0;
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}

/** Takes `n` bytes from every bucket; the wait is the longest of them. */
export function takeAll(buckets: readonly TokenBucket[], n: number): number {
  let wait = 0;
  for (const b of buckets) wait = Math.max(wait, b.take(n));
  return wait;
}
