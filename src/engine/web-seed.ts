/**
 * A BEP 19 web seed (an HTTP origin: a static server, a bucket URL, a presigned URL) as one more
 * source of blocks. The picker sees it as a source that has every piece; it asks the picker for
 * runs of consecutive pieces, fetches each run with HTTP range requests over a few keep-alive
 * connections, and hands the bytes to the torrent block by block, exactly as a peer's blocks
 * arrive. Verification, smart ban and storage do not know the difference.
 *
 * Not for: deciding when the origin may be used (the torrent's origin policy is the `accept`
 * predicate), hashing, or writing.
 *
 * Failures: a network error or a bad status frees the run's blocks for other sources and backs
 * this origin off (1 s doubling to 60 s); wrong bytes are caught by the hash check and reported
 * back through `strike`, and an origin that keeps sending them is dropped for good.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { type Metainfo } from '../codec/metainfo.js';
import { type BlockRequest, type PiecePicker } from './picker.js';
import { type TokenBucket, takeAll } from './rate-limit.js';
import { HttpRangeConnection, HttpRangeUnsupported } from './http-range.js';
import { pickRun, runLimit } from './origin-run.js';
import { HttpError, checkRangeAnswer, fileUrl, spansOf } from './web-seed-mapping.js';

export interface WebSeedHost {
  readonly metainfo: Metainfo;
  readonly picker: PiecePicker;
  /** A block from this origin; the torrent copies it before returning. */
  deliver(key: string, req: BlockRequest, data: Uint8Array): void;
  /** Origin policy: may this origin fetch piece `index` now? */
  accept(index: number): boolean;
  /** False while verification or the disk is behind (backpressure). */
  canRequest(): boolean;
  /** How many of this origin's `max` connections may fetch now. */
  slots(max: number): number;
  /** The longest run the policy wants in flight now (at least one piece is always allowed). */
  maxRunBytes(): number;
  /** This origin was dropped (told once, with the reason). */
  dropped(key: string, reason: string): void;
}

export interface WebSeedOptions {
  /** Parallel range requests to this origin. @default 4 */
  connections?: number;
  /** Most bytes asked for in one request run. @default 16 MiB */
  runBytes?: number;
  /** Shared origin rate limit(s). */
  buckets?: TokenBucket[];
  /** Hash failures (pieces this origin alone sent) before it is dropped. @default 2 */
  maxStrikes?: number;
  userAgent?: string;
  /** Give up on a request with no bytes for this long. @default 30 s */
  timeoutMs?: number;
}

export interface WebSeedStats {
  url: string;
  /** Bytes the origin served us (pad bytes are never fetched, so not counted). */
  bytes: number;
  requests: number;
  failures: number;
  hashFailures: number;
  state: 'active' | 'backing-off' | 'dropped';
  lastError: string | null;
}

const MAX_REDIRECTS = 5;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** An idle connection slot looks for work this often even without a wake-up. */
const IDLE_POLL_MS = 500;

export class WebSeed {
  readonly key: string;
  private readonly stats: WebSeedStats;
  private readonly agent: http.Agent;
  private readonly connections: number;
  private readonly runBytes: number;
  private readonly maxStrikes: number;
  private readonly timeoutMs: number;
  private stopped = false;
  private started = false;
  private backoffUntil = 0;
  private backoffMs = 0;
  private strikes = 0;
  private readonly wakers = new Set<() => void>();
  private readonly inFlight = new Set<IncomingMessage | http.ClientRequest>();
  private loops: Promise<void>[] = [];
  /** Plain-http origins go through http-range.ts until one answers in a way only node:http handles. */
  private fastPath = true;
  private readonly idleConns = new Map<string, HttpRangeConnection[]>();
  private readonly liveConns = new Set<HttpRangeConnection>();

  constructor(
    readonly url: string,
    private readonly host: WebSeedHost,
    private readonly opts: WebSeedOptions = {},
  ) {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`web seed ${url}: only http and https URLs are supported`);
    this.key = `web:${url}`;
    this.connections = Math.max(1, opts.connections ?? 4);
    this.runBytes = Math.max(host.metainfo.pieceLength, opts.runBytes ?? 16 * 1024 * 1024);
    this.maxStrikes = opts.maxStrikes ?? 2;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const Agent = u.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.connections });
    this.stats = { url, bytes: 0, requests: 0, failures: 0, hashFailures: 0, state: 'active', lastError: null };
  }

  getStats(): WebSeedStats {
    return { ...this.stats };
  }

  /** Started, and neither stopped nor dropped: the picker counts it as a source. */
  get active(): boolean {
    return this.started && this.stats.state !== 'dropped' && !this.stopped;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.host.picker.peerHasAll(this.key);
    this.loops = Array.from({ length: this.connections }, (_, slot) => this.loop(slot));
  }

  /** Something changed (a piece was freed, backpressure eased): idle slots look for work. */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** A piece that only this origin sent failed its hash check. */
  strike(): void {
    this.stats.hashFailures++;
    if (++this.strikes >= this.maxStrikes) this.drop(`sent data that failed the hash check ${this.strikes} times`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const r of this.inFlight) r.destroy();
    for (const c of this.liveConns) c.close();
    this.wake();
    await Promise.all(this.loops);
    for (const list of this.idleConns.values()) for (const c of list) c.close();
    this.agent.destroy();
    this.host.picker.peerGone(this.key);
  }

  private drop(reason: string): void {
    if (this.stats.state === 'dropped') return;
    this.stats.state = 'dropped';
    this.stats.lastError = reason;
    for (const r of this.inFlight) r.destroy();
    for (const c of this.liveConns) c.close();
    this.wake();
    this.host.dropped(this.key, reason);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref?.();
      this.wakers.add(done);
    });
  }

  private async loop(slot: number): Promise<void> {
    // Not before the torrent has dialed the peers it knows: the origin policy asks what they have.
    await new Promise((r) => setImmediate(r));
    // This connection's rate, bytes/s, from its last run: it sizes the next one.
    let rate = 0;
    while (!this.stopped && this.stats.state !== 'dropped') {
      const wait = this.backoffUntil - Date.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      // Slots beyond what the origin policy allows now stay idle (a swarm shares the origin).
      const run = this.host.canRequest() && slot < this.host.slots(this.connections) ? this.pickRun(this.runLimit(rate)) : [];
      if (run.length === 0) {
        // Done for now; a seed backed by this origin may want more later (wake()).
        await this.sleep(IDLE_POLL_MS);
        continue;
      }
      const began = Date.now();
      try {
        await this.fetchRun(run);
        const bytes = run.reduce((n, r) => n + r.req.length, 0);
        rate = bytes / Math.max(0.001, (Date.now() - began) / 1000);
        this.backoffMs = 0;
        if (this.stats.state === 'backing-off') this.stats.state = 'active';
      } catch (e) {
        if (this.stopped || (this.stats.state as string) === 'dropped') return;
        this.stats.failures++;
        this.stats.lastError = (e as Error).message;
        this.stats.state = 'backing-off';
        this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs ? this.backoffMs * 2 : BACKOFF_FIRST_MS);
        this.backoffUntil = Date.now() + this.backoffMs;
      } finally {
        // Whatever was not delivered goes back to the picker for any source.
        for (const r of run) if (!r.done) this.host.picker.requestFailed(this.key, r.req);
      }
    }
  }

  private runLimit(rate: number): number {
    return runLimit(rate, this.host.metainfo.pieceLength, Math.min(this.runBytes, this.host.maxRunBytes()));
  }

  private pickRun(limit: number): Array<{ req: BlockRequest; done: boolean }> {
    return pickRun(this.host.picker, this.key, this.host.metainfo, limit, (i) => this.host.accept(i)).map((req) => ({ req, done: false }));
  }

  /** Fetches the blocks in `run` (sorted), one HTTP request per contiguous span of one file. */
  private async fetchRun(run: Array<{ req: BlockRequest; done: boolean }>): Promise<void> {
    const t = this.host.metainfo;
    let i = 0;
    while (i < run.length && !this.stopped) {
      // A contiguous stretch of blocks.
      let j = i + 1;
      const startOf = (k: number) => run[k]!.req.index * t.pieceLength + run[k]!.req.begin;
      let end = startOf(i) + run[i]!.req.length;
      while (j < run.length && startOf(j) === end) end += run[j++]!.req.length;
      await this.fetchStretch(run.slice(i, j), startOf(i), end);
      i = j;
    }
  }

  /** Streams [start, end) of the piece stream into the stretch's blocks, in order. */
  private async fetchStretch(blocks: Array<{ req: BlockRequest; done: boolean }>, start: number, end: number): Promise<void> {
    let k = 0; // the block being filled
    let fill = 0;
    let scratch: Buffer | null = null;
    const push = (chunk: Uint8Array): void => {
      let o = 0;
      while (o < chunk.length) {
        const b = blocks[k];
        if (!b) throw new HttpError('origin sent more bytes than asked for');
        const len = b.req.length;
        if (fill === 0 && chunk.length - o >= len) {
          this.give(b, chunk.subarray(o, o + len));
          o += len;
          k++;
          continue;
        }
        scratch ??= Buffer.allocUnsafe(16384);
        const n = Math.min(len - fill, chunk.length - o);
        scratch.set(chunk.subarray(o, o + n), fill);
        fill += n;
        o += n;
        if (fill === len) {
          this.give(b, scratch.subarray(0, len));
          fill = 0;
          k++;
        }
      }
    };
    for (const span of spansOf(this.host.metainfo, start, end)) {
      if (this.stopped || this.stats.state === 'dropped') throw new HttpError('stopped');
      if (span.file < 0 || this.host.metainfo.files[span.file]!.pad) {
        push(new Uint8Array(span.length)); // pad bytes: zeros by definition, never fetched
        continue;
      }
      await this.get(this.fileUrl(span.file), span.position, span.length, (c) => {
        this.stats.bytes += c.length; // what the origin served (pad zeros are not counted)
        push(c);
      });
    }
  }

  private give(b: { req: BlockRequest; done: boolean }, data: Uint8Array): void {
    b.done = true;
    this.host.deliver(this.key, b.req, data);
  }

  fileUrl(file: number): string {
    return fileUrl(this.url, this.host.metainfo, file);
  }

  /** GET bytes [position, position + length) of `url`, following redirects; chunks go to `sink`. */
  private async get(url: string, position: number, length: number, sink: (c: Uint8Array) => void): Promise<void> {
    let target = url;
    for (let hop = 0; ; hop++) {
      if (this.fastPath && target.startsWith('http:')) {
        const next = await this.getFast(target, position, length, sink).catch((e: Error) => {
          if (!(e instanceof HttpRangeUnsupported)) throw e;
          this.fastPath = false; // this origin needs the full HTTP stack (chunked bodies...)
          return 'retry' as const;
        });
        if (next === null) return;
        if (next !== 'retry') {
          if (hop >= MAX_REDIRECTS) throw new HttpError(`${url}: more than ${MAX_REDIRECTS} redirects`);
          target = next;
          continue;
        }
      }
      const res = await this.request(target, position, length);
      const s = res.statusCode ?? 0;
      if (s >= 300 && s < 400 && res.headers.location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new HttpError(`${url}: more than ${MAX_REDIRECTS} redirects`);
        target = new URL(res.headers.location, target).toString();
        continue;
      }
      try {
        checkRangeAnswer(url, s, String(res.headers['content-range'] ?? ''), Number(res.headers['content-length']), position, length);
      } catch (e) {
        res.destroy();
        throw e;
      }
      await this.consume(res, length, sink, url);
      return;
    }
  }

  /**
   * One range GET through the shared-buffer client (http-range.ts). Resolves null when the body
   * has been delivered, or with the absolute URL of a redirect to follow.
   */
  private async getFast(url: string, position: number, length: number, sink: (c: Uint8Array) => void): Promise<string | null> {
    const u = new URL(url);
    const hostKey = `${u.hostname}:${u.port || 80}`;
    const idle = this.idleConns.get(hostKey) ?? [];
    this.idleConns.set(hostKey, idle);
    const conn = idle.pop() ?? new HttpRangeConnection(u.hostname, Number(u.port || 80));
    this.liveConns.add(conn);
    this.stats.requests++;
    const buckets = this.opts.buckets ?? [];
    let redirect: string | null = null;
    let got = 0;
    try {
      await conn.get({
        target: `${u.pathname}${u.search}`,
        host: u.host,
        start: position,
        length,
        userAgent: this.opts.userAgent ?? 'seedbank',
        timeoutMs: this.timeoutMs,
        onHead: (r) => {
          const location = r.headers.get('location');
          if (r.status >= 300 && r.status < 400 && location) {
            redirect = new URL(location, url).toString();
            return false;
          }
          checkRangeAnswer(url, r.status, r.headers.get('content-range') ?? '', Number(r.headers.get('content-length')), position, length);
          return true;
        },
        onBody: (c) => {
          got += c.length;
          sink(c);
          return buckets.length ? takeAll(buckets, c.length) : 0;
        },
      });
    } catch (e) {
      conn.close();
      throw e;
    } finally {
      this.liveConns.delete(conn);
    }
    if (this.stopped || conn.closed) conn.close();
    else idle.push(conn);
    if (redirect === null && got !== length) throw new HttpError(`${url}: body ended after ${got} of ${length} bytes`);
    return redirect;
  }

  private request(url: string, position: number, length: number): Promise<IncomingMessage> {
    this.stats.requests++;
    const mod = url.startsWith('https:') ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.get(url, {
        agent: this.agent,
        headers: { range: `bytes=${position}-${position + length - 1}`, 'user-agent': this.opts.userAgent ?? 'seedbank' },
        timeout: this.timeoutMs,
      });
      this.inFlight.add(req);
      let answered = false;
      req.once('response', (res) => {
        answered = true;
        this.inFlight.delete(req);
        resolve(res);
      });
      req.once('timeout', () => req.destroy(new HttpError(`${url}: no answer within ${this.timeoutMs / 1000} s`)));
      req.once('error', (e) => {
        this.inFlight.delete(req);
        reject(e);
      });
      req.once('close', () => {
        this.inFlight.delete(req);
        if (!answered) reject(new HttpError(`${url}: connection closed`));
      });
    });
  }

  /** Reads exactly `length` body bytes into `sink`, honouring the origin rate limit. */
  private consume(res: IncomingMessage, length: number, sink: (c: Uint8Array) => void, url: string): Promise<void> {
    const buckets = this.opts.buckets ?? [];
    return new Promise((resolve, reject) => {
      let got = 0;
      let settled = false;
      this.inFlight.add(res);
      const finish = (e: Error | null) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(res);
        clearTimeout(idle);
        if (e) {
          res.destroy();
          reject(e);
        } else resolve();
      };
      let idle = setTimeout(() => finish(new HttpError(`${url}: stalled`)), this.timeoutMs);
      res.on('data', (c: Buffer) => {
        clearTimeout(idle);
        idle = setTimeout(() => finish(new HttpError(`${url}: stalled`)), this.timeoutMs);
        if (got + c.length > length) return finish(new HttpError(`${url}: longer body than asked for`));
        got += c.length;
        try {
          sink(c);
        } catch (e) {
          return finish(e as Error);
        }
        const wait = buckets.length ? takeAll(buckets, c.length) : 0;
        if (wait > 0) {
          res.pause();
          setTimeout(() => res.resume(), wait).unref?.();
        }
      });
      res.once('end', () => (got === length ? finish(null) : finish(new HttpError(`${url}: body ended after ${got} of ${length} bytes`))));
      res.once('error', (e) => finish(e));
      res.once('close', () => finish(got === length ? null : new HttpError(`${url}: connection closed after ${got} of ${length} bytes`)));
    });
  }
}
