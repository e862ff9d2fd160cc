/**
 * BEP 14 on real sockets: one LsdService per address family the named interface has, IPv4 in
 * 239.192.152.143 and IPv6 in ff15::efc0:988f, both on port 6771, both with one hop (TTL / hop
 * limit 1) so no router forwards an announce off the link.
 *
 * For: choosing the interface and opening, joining and closing sockets. Not for: timing, parsing
 * or rate limits (lsd.ts), or whether a torrent may use LSD (the caller: never a private one).
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { LSD_GROUP_V4, LSD_GROUP_V6, LSD_PORT } from '../codec/lsd.js';
import { UsageError } from '../errors.js';
import { type LsdStats, LsdService } from './lsd.js';

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** What LSD can use of an interface: its IPv4 address, and whether it speaks IPv6. */
export interface LsdInterface {
  name: string;
  v4: string | null;
  v6: boolean;
}

/**
 * The interface called `name` (e.g. "eth0"). Throws a one-line UsageError that lists the
 * interfaces there are if it does not exist or has no address at all.
 */
export function lsdInterface(name: string, interfaces: Interfaces = os.networkInterfaces()): LsdInterface {
  const have = Object.keys(interfaces).join(', ') || 'none';
  const addrs = Object.prototype.hasOwnProperty.call(interfaces, name) ? interfaces[name] : undefined;
  if (!addrs) throw new UsageError(`--lsd ${name}: no such interface (have: ${have})`, 'LSD_INTERFACE');
  const v4 = addrs.find((a) => a.family === 'IPv4')?.address ?? null;
  const v6 = addrs.some((a) => a.family === 'IPv6');
  if (!v4 && !v6) throw new UsageError(`--lsd ${name}: the interface has no address (have: ${have})`, 'LSD_INTERFACE');
  return { name, v4, v6 };
}

/** The interface's IPv4 address; a one-line UsageError if it has none. */
export function lsdInterfaceAddress(name: string, interfaces: Interfaces = os.networkInterfaces()): string {
  const i = lsdInterface(name, interfaces);
  if (!i.v4) throw new UsageError(`--lsd ${name}: the interface has no IPv4 address (have: ${Object.keys(interfaces).join(', ')})`, 'LSD_INTERFACE');
  return i.v4;
}

/** LSD on one interface, over every family it has. */
export interface Lsd {
  readonly families: ReadonlyArray<4 | 6>;
  /** Registers a 20-byte hash with every family's service; the function returned undoes it. */
  add(infoHash: Buffer, onPeer: (host: string, port: number) => void): () => void;
  stats(): LsdStats;
  close(): Promise<void>;
}

export interface StartLsdOptions {
  /** The interface name to announce and listen on, e.g. "eth0". */
  interface: string;
  /** The TCP port peers should dial. */
  port: number;
  /** For tests: the interfaces to pick from. @default os.networkInterfaces() */
  interfaces?: Interfaces;
}

/**
 * Starts LSD on one interface: a socket on port 6771 per family (shared with other LSD clients on
 * the host through SO_REUSEADDR) in that family's group on that interface. IPv6 is used when the
 * interface has an IPv6 address and the system lets us join; if it does not, LSD runs on IPv4 alone
 * (and the other way round). Throws a one-line UsageError when no family works.
 */
export async function startLsd(opts: StartLsdOptions): Promise<Lsd> {
  const iface = lsdInterface(opts.interface, opts.interfaces);
  const services: LsdService[] = [];
  const errors: string[] = [];
  if (iface.v4) {
    await open(4, iface.v4, opts).then((s) => services.push(s), (e: Error) => errors.push(e.message));
  }
  if (iface.v6) {
    // An IPv6 multicast interface is named by its scope: "::%eth0".
    await open(6, `::%${iface.name}`, opts).then((s) => services.push(s), (e: Error) => errors.push(e.message));
  }
  if (services.length === 0) throw new UsageError(`--lsd ${opts.interface}: ${errors.join('; ')}`, 'LSD_SOCKET');
  return {
    families: services.map((s) => s.family),
    add: (hash, onPeer) => {
      const offs = services.map((s) => s.add(hash, onPeer));
      return () => offs.forEach((off) => off());
    },
    stats: () => {
      const all = services.map((s) => s.stats());
      const sum = (k: keyof LsdStats) => all.reduce((n, x) => n + x[k], 0);
      return { packetsSent: sum('packetsSent'), announcesReceived: sum('announcesReceived'), ownDropped: sum('ownDropped'), malformed: sum('malformed'), rateLimited: sum('rateLimited'), peersFound: sum('peersFound') };
    },
    close: async () => {
      await Promise.all(services.map((s) => s.close()));
    },
  };
}

async function open(family: 4 | 6, ifaceAddr: string, opts: StartLsdOptions): Promise<LsdService> {
  const group = family === 4 ? LSD_GROUP_V4 : LSD_GROUP_V6;
  const socket = dgram.createSocket(family === 4 ? { type: 'udp4', reuseAddr: true } : { type: 'udp6', reuseAddr: true, ipv6Only: true });
  const fail = (what: string, e: unknown): never => {
    try {
      socket.close();
    } catch {
      // never bound: nothing to close
    }
    throw new Error(`${what}: ${(e as Error).message}`);
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(LSD_PORT, family === 4 ? '0.0.0.0' : '::', () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => fail(`cannot listen on UDP port ${LSD_PORT} (IPv${family})`, e));
  try {
    socket.addMembership(group, ifaceAddr);
    socket.setMulticastInterface(ifaceAddr);
    // One hop: routers never forward an announce off the link (the hop limit, for IPv6).
    socket.setMulticastTTL(1);
    // Two seedbank processes on one host hear each other; our own packets are dropped by cookie.
    socket.setMulticastLoopback(true);
  } catch (e) {
    fail(`cannot join ${group} on ${ifaceAddr}`, e);
  }
  // Errors after the start (an interface going down) must not crash the process.
  socket.on('error', () => {});
  const service = new LsdService({
    port: opts.port,
    family,
    transport: {
      send: (packet) => socket.send(packet, LSD_PORT, group, () => {}),
      close: () => new Promise<void>((r) => socket.close(() => r())),
    },
  });
  socket.on('message', (msg, rinfo) => service.receive(msg, rinfo.address));
  return service;
}
