/**
 * DhtNodes at chosen addresses on an in-memory network and one SimClock, for tests that need
 * particular addresses (BEP 42: global or exempt; BEP 32: IPv4 or IPv6). Every packet takes 5 ms.
 */
import { type Endpoint } from '../../src/codec/krpc.js';
import { DhtNode, type DhtNodeOptions } from '../../src/dht/node.js';
import { SimClock, seededRandom } from '../../src/sim/clock.js';

export type Rewrite = (packet: Uint8Array, to: Endpoint, from: Endpoint) => Uint8Array | null;

export function memoryNet(seed = 1) {
  const clock = new SimClock();
  const random = seededRandom(seed);
  const byAddr = new Map<string, DhtNode>();
  const timers = { now: clock.now, setTimeout: (fn: () => void, ms: number) => clock.after(ms, fn), clearTimeout: (h: unknown) => clock.cancel(h as ReturnType<SimClock['after']>) };
  const intercept: { fn?: Rewrite } = {};

  function add(host: string, opts: Partial<Omit<DhtNodeOptions, 'transport' | 'timers'>> = {}, port = 6881): DhtNode {
    const self = { host, port };
    const node = new DhtNode({
      random,
      randomBytes: (k) => Uint8Array.from({ length: k }, () => Math.floor(random() * 256)),
      ...opts,
      timers,
      transport: {
        send(packet, toHost, toPort) {
          const copy = Uint8Array.from(packet);
          clock.after(5, () => {
            const to = byAddr.get(`${toHost}|${toPort}`);
            const p = intercept.fn ? intercept.fn(copy, { host: toHost, port: toPort }, self) : copy;
            if (to && p) to.onPacket(p, self);
          });
        },
      },
    });
    byAddr.set(`${host}|${port}`, node);
    return node;
  }

  const drive = driver(clock);

  return { clock, random, add, drive, intercept };
}

/** Runs `clock` (and the promise continuations between its events) until a promise settles. */
export function driver(clock: SimClock) {
  return async function drive<T>(p: Promise<T>, limitMs = 120_000): Promise<T> {
    let settled = false;
    const out = p.finally(() => (settled = true));
    for (let i = 0; i < 1_000_000 && !settled; i++) {
      if (clock.run({ untilMs: limitMs, maxEvents: 1 }) !== 'events' && !settled) {
        await new Promise((r) => setImmediate(r));
        if (!settled && clock.pending === 0) break;
      }
      await new Promise((r) => setImmediate(r));
    }
    return out;
  };
}
