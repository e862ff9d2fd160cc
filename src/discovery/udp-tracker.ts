/**
 * The client side of the UDP tracker protocol (BEP 15): connect, announce, scrape.
 *
 * For: src/discovery/tracker-client.ts, which picks this for `udp://` URLs.
 * Not for: packet layouts (src/codec/tracker.ts).
 *
 * One socket per address family, shared by all requests and demultiplexed by transaction id (so a
 * tracker that binds connection ids to our port, not only our address, keeps accepting them). The
 * sockets are unref'd: an idle client does not keep the process alive; `close()` ends them.
 *
 * Connection ids are cached per tracker endpoint for one minute (BEP 15). Retransmission follows
 * BEP 15 (wait `base · 2^n`, n = 0, 1, ... 8) but stops at the request's overall timeout; `base` is
 * 15 s by default and configurable so tests run fast. A connection id that goes stale during
 * retransmission is renewed; an error reply to a request made with a cached id is retried once
 * with a fresh id (the tracker may have restarted and forgotten its secret).
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import {
  type AnnounceRequest,
  type IpFamily,
  MAX_UDP_SCRAPE_HASHES,
  type ScrapeStats,
  TrackerError,
  type UdpResponse,
  decodeUdpResponse,
  encodeUdpRequest,
  newTransactionId,
} from '../codec/tracker.js';
import { canonicalIp } from './address-policy.js';

/** BEP 15: the first retransmission after 15 s. */
export const DEFAULT_UDP_BASE_TIMEOUT_MS = 15_000;
/** BEP 15: a client may use a connection id for one minute. */
export const UDP_CONNECTION_ID_TTL_MS = 60_000;
/** Tracker endpoints whose connection ids we remember. */
const MAX_CACHED_CONNECTION_IDS = 1024;

export interface UdpTrackerClientOptions {
  /** First retransmission delay. @default 15,000 ms (BEP 15) */
  baseTimeoutMs?: number;
  /** Local address for the socket of that address's family (tests: '127.0.0.1'). @default any */
  bindAddress?: string;
  /** @default Date.now */
  now?: () => number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Overall time for the request, connect included. */
  timeoutMs: number;
}

type UdpAnnounceReply = Extract<UdpResponse, { action: 'announce' }>;

interface Endpoint {
  url: string;
  address: string;
  port: number;
  family: IpFamily;
  key: string;
}

type Handler = (msg: Buffer, from: dgram.RemoteInfo) => void;

export class UdpTrackerClient {
  private readonly sockets = new Map<IpFamily, Promise<dgram.Socket>>();
  private readonly pending = new Map<number, Handler>();
  private readonly connectionIds = new Map<string, { id: bigint; at: number }>();
  private readonly baseTimeoutMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly opts: UdpTrackerClientOptions = {}) {
    this.baseTimeoutMs = opts.baseTimeoutMs ?? DEFAULT_UDP_BASE_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  async announce(url: string, params: AnnounceRequest, o: RequestOptions): Promise<UdpAnnounceReply> {
    const r = await this.request(url, o, (connectionId, transactionId) => encodeUdpRequest({ action: 'announce', connectionId, transactionId, params }));
    if (r.action !== 'announce') throw new TrackerError(`${url} answered an announce with a ${r.action} packet`);
    return r;
  }

  /** Results in the order of `infoHashes`; asked in packets of at most 74 hashes. */
  async scrape(url: string, infoHashes: readonly Uint8Array[], o: RequestOptions): Promise<ScrapeStats[]> {
    const out: ScrapeStats[] = [];
    for (let i = 0; i < infoHashes.length; i += MAX_UDP_SCRAPE_HASHES) {
      const chunk = infoHashes.slice(i, i + MAX_UDP_SCRAPE_HASHES);
      const r = await this.request(url, o, (connectionId, transactionId) => encodeUdpRequest({ action: 'scrape', connectionId, transactionId, infoHashes: chunk }));
      if (r.action !== 'scrape' || r.files.length !== chunk.length) throw new TrackerError(`${url} answered a scrape of ${chunk.length} hashes with something else`);
      out.push(...r.files);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sockets = await Promise.allSettled([...this.sockets.values()]);
    this.sockets.clear();
    await Promise.all(sockets.map((s) => (s.status === 'fulfilled' ? new Promise<void>((r) => s.value.close(() => r())) : undefined)));
  }

  private async request(url: string, o: RequestOptions, build: (connectionId: bigint, transactionId: number) => Buffer): Promise<UdpResponse> {
    const deadline = this.now() + o.timeoutMs;
    const ep = await resolve(url, o.signal);
    let retried = false;
    while (true) {
      const conn = await this.connectionId(ep, deadline, o);
      const tid = this.freeTransactionId();
      const expired = () => this.now() - conn.at >= UDP_CONNECTION_ID_TTL_MS;
      const r = await this.exchange(ep, build(conn.id, tid), tid, deadline, o, expired);
      if (r === 'expired' || (r.action === 'error' && conn.cached && !retried)) {
        this.connectionIds.delete(ep.key);
        retried ||= r !== 'expired';
        continue;
      }
      if (r.action === 'error') throw new TrackerError(`${url} refused: ${r.message.slice(0, 300)}`, 'TRACKER_FAILURE', r.message);
      return r;
    }
  }

  private async connectionId(ep: Endpoint, deadline: number, o: RequestOptions): Promise<{ id: bigint; at: number; cached: boolean }> {
    const c = this.connectionIds.get(ep.key);
    if (c && this.now() - c.at < UDP_CONNECTION_ID_TTL_MS) return { ...c, cached: true };
    const tid = this.freeTransactionId();
    const r = await this.exchange(ep, encodeUdpRequest({ action: 'connect', transactionId: tid }), tid, deadline, o);
    if (r === 'expired') throw new Error('unreachable: a connect does not expire');
    if (r.action === 'error') throw new TrackerError(`${ep.url} refused to connect: ${r.message.slice(0, 300)}`, 'TRACKER_FAILURE', r.message);
    if (r.action !== 'connect') throw new TrackerError(`${ep.url} answered a connect with a ${r.action} packet`);
    const entry = { id: r.connectionId, at: this.now() };
    this.connectionIds.delete(ep.key);
    this.connectionIds.set(ep.key, entry);
    if (this.connectionIds.size > MAX_CACHED_CONNECTION_IDS) this.connectionIds.delete(this.connectionIds.keys().next().value!);
    return { ...entry, cached: false };
  }

  /** Sends `packet` until an answer with `tid` arrives, retransmitting with backoff, until the deadline. */
  private async exchange(ep: Endpoint, packet: Buffer, tid: number, deadline: number, o: RequestOptions, expired?: () => boolean): Promise<UdpResponse | 'expired'> {
    const socket = await this.socket(ep.family);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let n = 0;
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.pending.delete(tid);
        o.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = () => finish(() => reject(new TrackerError(`announce to ${ep.url} aborted`, 'TRACKER_ABORTED')));
      this.pending.set(tid, (msg, from) => {
        if (from.port !== ep.port || canonicalIp(from.address) !== ep.address) return; // not from the tracker
        try {
          const r = decodeUdpResponse(msg, ep.family);
          finish(() => resolve(r));
        } catch (e) {
          finish(() => reject(e));
        }
      });
      const timeUp = () => finish(() => reject(new TrackerError(`no answer from ${ep.url} in time`, 'TRACKER_TIMEOUT')));
      const send = () => {
        const left = deadline - this.now();
        if (left <= 0) return timeUp();
        if (expired?.()) return finish(() => resolve('expired'));
        socket.send(packet, ep.port, ep.address, (err) => {
          if (err) finish(() => reject(new TrackerError(`cannot send to ${ep.url}: ${err.message}`, 'TRACKER_UNREACHABLE')));
        });
        const wait = this.baseTimeoutMs * 2 ** Math.min(n++, 8);
        // The last wait ends the request, whatever a timer firing a millisecond early makes `now` say.
        timer = wait >= left ? setTimeout(timeUp, left) : setTimeout(send, wait);
      };
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      send();
    });
  }

  private freeTransactionId(): number {
    for (let i = 0; i < 16; i++) {
      const t = newTransactionId();
      if (!this.pending.has(t)) return t;
    }
    throw new Error('no free transaction id');
  }

  private socket(family: IpFamily): Promise<dgram.Socket> {
    if (this.closed) return Promise.reject(new TrackerError('the tracker client is closed', 'TRACKER_ABORTED'));
    let s = this.sockets.get(family);
    if (!s) {
      s = new Promise((resolve, reject) => {
        const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
        socket.on('message', (msg, from) => {
          if (msg.length >= 8) this.pending.get(msg.readUInt32BE(4))?.(msg, from);
        });
        socket.once('error', reject);
        const bind = this.opts.bindAddress;
        const local = bind !== undefined && bind.includes(':') === (family === 6) ? bind : undefined;
        socket.bind({ port: 0, address: local }, () => {
          socket.off('error', reject);
          socket.on('error', () => {}); // ICMP errors and the like: requests time out on their own
          socket.unref();
          resolve(socket);
        });
      });
      this.sockets.set(family, s);
      s.catch(() => this.sockets.delete(family));
    }
    return s;
  }
}

async function resolve(url: string, signal?: AbortSignal): Promise<Endpoint> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrackerError(`${JSON.stringify(url)} is not a URL`, 'TRACKER_URL');
  }
  const port = Number(u.port);
  if (u.protocol !== 'udp:' || !u.hostname || !(port > 0)) throw new TrackerError(`${url} is not a udp://host:port tracker URL`, 'TRACKER_URL');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  let address = canonicalIp(host);
  let family: IpFamily = address?.includes(':') ? 6 : 4;
  if (address === null) {
    try {
      const r = await lookup(host);
      address = canonicalIp(r.address) ?? r.address;
      family = r.family === 6 ? 6 : 4;
    } catch (e) {
      throw new TrackerError(`cannot resolve ${host}: ${(e as Error).message}`, 'TRACKER_UNREACHABLE');
    }
  }
  if (signal?.aborted) throw new TrackerError(`announce to ${url} aborted`, 'TRACKER_ABORTED');
  return { url, address, port, family, key: `${address}|${port}` };
}
