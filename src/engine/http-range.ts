/**
 * A minimal HTTP/1.1 client for one thing: GET a byte range over a keep-alive connection, reading
 * through the shared read buffer (socket-reader.ts) instead of node:http's fresh Buffer per read.
 * On a fast origin those buffers, and node:http's stream machinery, were most of the download's
 * garbage-collection time. Plain `http:` only; `https:` and anything unusual (chunked bodies,
 * a missing Content-Length) fall back to node:http in web-seed.ts.
 *
 * Not for: redirects (the caller follows them), HTTP semantics beyond what a range GET needs.
 */
import type { Socket } from 'node:net';
import { connectSharedBuffer, onBytes } from './socket-reader.js';

/** Largest response head we accept. */
const MAX_HEAD = 64 * 1024;

export class HttpRangeUnsupported extends Error {
  override name = 'HttpRangeUnsupported';
}

export interface RangeResponse {
  status: number;
  headers: Map<string, string>;
}

export interface RangeRequest {
  /** Path and query, e.g. `/bucket/a.bin?sig=x`. */
  target: string;
  /** `Host` header value. */
  host: string;
  start: number;
  length: number;
  userAgent: string;
  timeoutMs: number;
  /**
   * Told the status and headers; return false to skip the body (a redirect, an error: the
   * connection is then closed). Throwing aborts.
   */
  onHead(r: RangeResponse): boolean;
  /** Body bytes, valid only during the call. Returns ms to pause reading (rate limit), or 0. */
  onBody(chunk: Uint8Array): number;
}

/** One connection to one origin, reused for request after request. Not concurrent. */
export class HttpRangeConnection {
  private socket: Socket | null = null;
  private busy = false;
  closed = false;

  constructor(
    private readonly hostname: string,
    private readonly port: number,
  ) {}

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(timeoutMs: number): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = connectSharedBuffer({ host: this.hostname.replace(/^\[|\]$/g, ''), port: this.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${this.hostname}:${this.port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        this.socket = s;
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Sends one GET with a Range header and streams the answer to the request's callbacks. */
  async get(req: RangeRequest): Promise<void> {
    if (this.busy) throw new Error('HttpRangeConnection is not concurrent');
    if (this.closed) throw new Error('connection closed');
    this.busy = true;
    try {
      const reused = this.socket !== null && !this.socket.destroyed;
      try {
        await this.exchange(await this.connect(req.timeoutMs), req);
      } catch (e) {
        // A keep-alive connection the server closed while idle: one fresh attempt.
        if (!(reused && e instanceof StaleConnection)) throw e;
        this.socket = null;
        await this.exchange(await this.connect(req.timeoutMs), req);
      }
    } finally {
      this.busy = false;
    }
  }

  private exchange(s: Socket, req: RangeRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      let head: Buffer | null = Buffer.alloc(0);
      let left = -1; // body bytes still to come; -1 while reading the head
      let gotAny = false;
      let keepAlive = true;
      let idle: NodeJS.Timeout;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => finish(new Error(`no data for ${req.timeoutMs / 1000} s`)), req.timeoutMs);
      };
      const finish = (err: Error | null) => {
        clearTimeout(idle);
        stop();
        s.off('close', onClose);
        s.off('error', onError);
        if (err || !keepAlive) {
          s.destroy();
          if (this.socket === s) this.socket = null;
        }
        if (err) reject(err);
        else resolve();
      };
      const onClose = () => finish(gotAny ? new Error(`connection closed with ${left} body bytes to come`) : new StaleConnection('connection closed before an answer'));
      const onError = (e: Error) => finish(gotAny ? e : new StaleConnection(e.message));
      const body = (chunk: Uint8Array) => {
        const n = Math.min(left, chunk.length);
        left -= n;
        const wait = req.onBody(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (left === 0) return finish(n === chunk.length ? null : new Error('more bytes than the response declared'));
        if (wait > 0) {
          s.pause();
          setTimeout(() => {
            if (!s.destroyed) s.resume();
          }, wait).unref?.();
        }
      };
      const stop = onBytes(s, (chunk) => {
        gotAny = true;
        arm();
        try {
          if (left >= 0) return body(chunk);
          head = Buffer.concat([head!, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (head.length > MAX_HEAD) throw new Error('response head too large');
            return;
          }
          const r = parseHead(head.subarray(0, end).toString('latin1'));
          const rest = head.subarray(end + 4);
          head = null;
          keepAlive = (r.headers.get('connection') ?? '').toLowerCase() !== 'close';
          if (r.headers.has('transfer-encoding')) throw new HttpRangeUnsupported(`Transfer-Encoding ${r.headers.get('transfer-encoding')}`);
          const cl = r.headers.get('content-length');
          if (cl === undefined || !/^\d+$/.test(cl)) {
            if (r.status === 204 || r.status === 304 || (r.status >= 300 && r.status < 400)) left = 0;
            else throw new HttpRangeUnsupported('no Content-Length');
          } else left = Number(cl);
          if (!req.onHead(r)) {
            keepAlive = false;
            return finish(null);
          }
          if (left === 0) return finish(null);
          if (rest.length) body(rest);
        } catch (e) {
          finish(e as Error);
        }
      });
      s.on('close', onClose);
      s.on('error', onError);
      arm();
      s.write(
        `GET ${req.target} HTTP/1.1\r\nHost: ${req.host}\r\nRange: bytes=${req.start}-${req.start + req.length - 1}\r\n` +
          `User-Agent: ${req.userAgent}\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n`,
      );
      s.resume();
    });
  }
}

/** The connection was dead before the server said anything: safe to retry once. */
class StaleConnection extends Error {
  override name = 'StaleConnection';
}

export function parseHead(text: string): RangeResponse {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
  }
  return { status: Number(m[1]), headers };
}
