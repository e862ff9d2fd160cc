/**
 * Announce to and scrape one tracker, whatever its scheme: `http://`, `https://` (BEP 3, 23, 7,
 * 48) or `udp://` (BEP 15).
 *
 * For: src/discovery/tracker-set.ts (tiers, intervals, events) and anyone who needs one exchange.
 * Not for: deciding when to announce, or which tracker in a tier to try.
 *
 * `announce()` and `scrape()` use a shared default `TrackerClient`; make your own to choose UDP
 * timing or to close its sockets. Every failure is a `TrackerError` with a code: TRACKER_FAILURE
 * (the tracker said no), TRACKER_TIMEOUT, TRACKER_UNREACHABLE, TRACKER_HTTP, TRACKER_MALFORMED,
 * TRACKER_URL or TRACKER_ABORTED.
 */
import {
  type AnnounceRequest,
  type ScrapeStats,
  TrackerError,
  buildAnnounceUrl,
  buildScrapeUrl,
  parseAnnounceResponse,
  parseScrapeResponse,
  scrapeUrlFor,
} from '../codec/tracker.js';
import { trackerGet } from './http-tracker.js';
import { UdpTrackerClient, type UdpTrackerClientOptions } from './udp-tracker.js';

/** Overall time for one announce or scrape, redirects and retransmissions included. @default 30 s */
export const DEFAULT_TRACKER_TIMEOUT_MS = 30_000;
/** Info hashes per HTTP scrape request (trackers cap multi-scrapes; opentracker at 64). */
const HTTP_SCRAPE_CHUNK = 50;

export type AnnounceParams = AnnounceRequest;

export interface AnnounceOptions {
  signal?: AbortSignal;
  /** @default 30,000 ms */
  timeoutMs?: number;
}

export interface AnnounceResult {
  /** Seconds until the next regular announce. */
  interval: number;
  minInterval?: number;
  /** Seeders. */
  complete?: number;
  /** Leechers. */
  incomplete?: number;
  /** IPv4 and IPv6 peers, without duplicates. */
  peers: Array<{ host: string; port: number }>;
  warning?: string;
  /** Send back as `trackerId` in later announces to this tracker (HTTP only). */
  trackerId?: Uint8Array;
}

export type TrackerClientOptions = UdpTrackerClientOptions;

export class TrackerClient {
  private readonly udp: UdpTrackerClient;

  constructor(opts: TrackerClientOptions = {}) {
    this.udp = new UdpTrackerClient(opts);
  }

  async announce(url: string, params: AnnounceParams, opts: AnnounceOptions = {}): Promise<AnnounceResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TRACKER_TIMEOUT_MS;
    const scheme = schemeOf(url);
    if (scheme === 'udp') {
      const r = await this.udp.announce(url, params, { signal: opts.signal, timeoutMs });
      return { interval: r.interval, complete: r.seeders, incomplete: r.leechers, peers: unique(r.peers) };
    }
    const body = await trackerGet(buildAnnounceUrl(url, { compact: true, ...params }), { signal: opts.signal, timeoutMs });
    const r = parseAnnounceResponse(body);
    const out: AnnounceResult = { interval: r.interval, peers: unique(r.peers) };
    if (r.minInterval !== undefined) out.minInterval = r.minInterval;
    if (r.complete !== undefined) out.complete = r.complete;
    if (r.incomplete !== undefined) out.incomplete = r.incomplete;
    if (r.warning !== undefined) out.warning = r.warning;
    if (r.trackerId !== undefined) out.trackerId = r.trackerId;
    return out;
  }

  /** Stats by info hash (40 lowercase hex digits). Hashes the tracker does not know may be absent (HTTP) or zero (UDP). */
  async scrape(url: string, infoHashes: readonly Uint8Array[], opts: AnnounceOptions = {}): Promise<Map<string, ScrapeStats>> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TRACKER_TIMEOUT_MS;
    const out = new Map<string, ScrapeStats>();
    if (infoHashes.length === 0) return out;
    if (schemeOf(url) === 'udp') {
      const stats = await this.udp.scrape(url, infoHashes, { signal: opts.signal, timeoutMs });
      infoHashes.forEach((h, i) => out.set(Buffer.from(h).toString('hex'), stats[i]!));
      return out;
    }
    const scrapeUrl = scrapeUrlFor(url);
    if (scrapeUrl === null) throw new TrackerError(`${url} has no scrape URL (its path does not end in announce)`, 'TRACKER_URL');
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < infoHashes.length; i += HTTP_SCRAPE_CHUNK) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TrackerError(`no answer from ${url} in ${timeoutMs} ms`, 'TRACKER_TIMEOUT');
      const body = await trackerGet(buildScrapeUrl(scrapeUrl, infoHashes.slice(i, i + HTTP_SCRAPE_CHUNK)), { signal: opts.signal, timeoutMs: left });
      for (const [k, v] of parseScrapeResponse(body)) out.set(k, v);
    }
    return out;
  }

  /** Closes the UDP sockets. Requests after this fail with TRACKER_ABORTED. */
  close(): Promise<void> {
    return this.udp.close();
  }
}

function schemeOf(url: string): 'http' | 'udp' {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  const s = m?.[1]!.toLowerCase();
  if (s === 'http' || s === 'https') return 'http';
  if (s === 'udp') return 'udp';
  throw new TrackerError(`${JSON.stringify(url.slice(0, 200))}: only http, https and udp trackers are supported`, 'TRACKER_URL');
}

function unique(peers: ReadonlyArray<{ host: string; port: number }>): Array<{ host: string; port: number }> {
  const seen = new Set<string>();
  const out: Array<{ host: string; port: number }> = [];
  for (const p of peers) {
    const k = `${p.host}|${p.port}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ host: p.host, port: p.port });
  }
  return out;
}

let shared: TrackerClient | null = null;

/** One announce with the shared default client. */
export function announce(url: string, params: AnnounceParams, opts: AnnounceOptions = {}): Promise<AnnounceResult> {
  shared ??= new TrackerClient();
  return shared.announce(url, params, opts);
}

/** One scrape with the shared default client. */
export function scrape(url: string, infoHashes: readonly Uint8Array[], opts: AnnounceOptions = {}): Promise<Map<string, ScrapeStats>> {
  shared ??= new TrackerClient();
  return shared.scrape(url, infoHashes, opts);
}
