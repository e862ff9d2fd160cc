/**
 * A DHT node on a UDP socket: binds, feeds datagrams to the node, runs its upkeep once a minute,
 * and closes. IPv4 only for now (BEP 32's second socket comes with the IPv6 work).
 * Private by default (ADR 010): the node knows only the bootstrap nodes it is given.
 */
import dgram from 'node:dgram';
import { type Endpoint } from '../codec/krpc.js';
import { DhtNode, type DhtNodeOptions } from './node.js';

/** Upkeep: ping questionable nodes, refresh stale buckets, expire stores. */
const MAINTAIN_MS = 60_000;

export interface UdpDht {
  node: DhtNode;
  port: number;
  close(): Promise<void>;
}

export async function startUdpDht(opts: { port?: number; host?: string; bootstrap?: readonly Endpoint[] } & Partial<Omit<DhtNodeOptions, 'transport' | 'timers'>> = {}): Promise<UdpDht> {
  const socket = dgram.createSocket({ type: 'udp4' });
  const node = new DhtNode({
    ...opts,
    transport: {
      send(packet, host, port) {
        socket.send(packet, port, host);
      },
    },
    timers: {
      now: () => performance.now(),
      setTimeout: (fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return t;
      },
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    },
  });
  socket.on('message', (msg, rinfo) => node.onPacket(msg, { host: rinfo.address, port: rinfo.port }));
  // A send to an unreachable port reports ICMP errors here on some systems: the query times out.
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, opts.host ?? '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const timer = setInterval(() => node.maintain(), MAINTAIN_MS);
  timer.unref();
  if (opts.bootstrap?.length) await node.bootstrap(opts.bootstrap);
  return {
    node,
    port: socket.address().port,
    async close() {
      clearInterval(timer);
      node.close();
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}
