/** Shared bits of the tracker tests: ids, raw HTTP and UDP exchanges on loopback, a fake clock. */
import dgram from 'node:dgram';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AnnounceParams } from '../../src/discovery/tracker-client.js';
import type { Clock } from '../../src/discovery/tracker-set.js';

export const LOOPBACK = '127.0.0.1';

/** A 20-byte hash named by a word, so failures are readable. */
export function hash20(name: string): Buffer {
  return createHash('sha1').update(name).digest();
}

/** An Azureus-style peer id: `-SB0001-` and 12 bytes from `name`. */
export function peerId(name: string): Buffer {
  return Buffer.concat([Buffer.from('-SB0001-'), hash20(name).subarray(0, 12)]);
}

export function params(infoHash: Buffer, name: string, port: number, extra: Partial<AnnounceParams> = {}): AnnounceParams {
  return { infoHash, peerId: peerId(name), port, uploaded: 0, downloaded: 0, left: 1000, ...extra };
}

/** One GET on loopback; the status and the raw body. */
export function rawGet(port: number, path: string, method = 'GET'): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, path, method, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Sends one datagram from a fresh loopback socket and waits up to `ms` for one answer (null if none). */
export function rawUdp(port: number, packet: Buffer, ms = 1000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, ms);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      s.close();
      reject(e);
    });
    s.bind(0, LOOPBACK, () => s.send(packet, port, LOOPBACK));
  });
}

/** A clock whose time moves only when told. Timers fire in order of due time during `advance`. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers (and letting their promises settle) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise callbacks run (a few turns of the event loop). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
