/**
 * Transfer rate over a sliding window, on an injected clock. Used for choking (who gives us the
 * most), request pipelining (how deep to queue) and progress output.
 */
export class RateMeter {
  private readonly buckets: number[];
  private bucketStart: number;
  private total = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = 5000,
    private readonly bucketMs = 250,
  ) {
    this.buckets = new Array<number>(Math.ceil(windowMs / bucketMs)).fill(0);
    this.bucketStart = Math.floor(now() / bucketMs);
  }

  add(bytes: number): void {
    this.advance();
    this.buckets[this.bucketStart % this.buckets.length]! += bytes;
    this.total += bytes;
  }

  /** Bytes per second over the window. */
  rate(): number {
    this.advance();
    let sum = 0;
    for (const b of this.buckets) sum += b;
    return (sum * 1000) / this.windowMs;
  }

  get bytes(): number {
    return this.total;
  }

  private advance(): void {
    const cur = Math.floor(this.now() / this.bucketMs);
    const steps = Math.min(cur - this.bucketStart, this.buckets.length);
    for (let i = 1; i <= steps; i++) this.buckets[(this.bucketStart + i) % this.buckets.length] = 0;
    if (cur > this.bucketStart) this.bucketStart = cur;
  }
}
