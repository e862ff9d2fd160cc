/**
 * The DHT on UDP sockets: a `udp4` socket, and a `udp6` one when the system has IPv6 (BEP 32),
 * each feeding its own DhtNode, run as one DualDht. Binds, runs the upkeep once a minute, keeps
 * the routing tables in a state file between runs (if given one), and closes.
 * Private by default (ADR 010): the nodes know only the bootstrap nodes they are given and, with a
 * state file, the nodes they knew last run.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { idFromHex } from '../codec/dht-id.js';
import { parseIp } from '../codec/extensions.js';
import { type Endpoint } from '../codec/krpc.js';
import { DualDht } from './dual.js';
import { DhtNode, type DhtNodeOptions } from './node.js';
import { type NodeContact, type RoutingTable } from './routing-table.js';
import { UNREF_TIMERS } from './rpc.js';
import { type DhtState, readDhtState, writeDhtState } from './state-file.js';

/** Upkeep: ping questionable nodes, refresh stale buckets, expire stores. */
const MAINTAIN_MS = 60_000;
/** How often the state file is rewritten (and once more on close). */
export const SAVE_STATE_MS = 10 * 60_000;

export interface UdpDhtOptions extends Partial<Omit<DhtNodeOptions, 'transport' | 'timers' | 'family' | 'restore'>> {
  /** IPv4 socket. @default port 0 (any), host '0.0.0.0' */
  port?: number;
  host?: string;
  /** Where to join: IP literals go to the node of their family; host names are resolved for both. */
  bootstrap?: readonly Endpoint[];
  /** Open the IPv6 socket (if binding it fails, the DHT runs on IPv4 alone). @default true */
  ipv6?: boolean;
  /** IPv6 socket. @default port the same as `port` (0: any), host '::' (IPv6 only) */
  port6?: number;
  host6?: string;
  /** A JSON file (state-file.ts) for our id and the routing tables: read at start, written every 10 minutes and on close. */
  statePath?: string;
  /** Problems that do not stop the DHT: an unusable state file, a failed save, no IPv6, an unresolvable bootstrap name. */
  onWarning?: (message: string) => void;
}

export class UdpDht extends DualDht {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    v4: DhtNode,
    v6: DhtNode | null,
    private readonly socket4: dgram.Socket,
    private readonly socket6: dgram.Socket | null,
    private readonly opts: UdpDhtOptions,
  ) {
    super(v4, v6);
    this.port = socket4.address().port;
    this.port6 = socket6?.address().port ?? null;
    this.timers.push(setInterval(() => this.maintain(), MAINTAIN_MS));
    if (opts.statePath) this.timers.push(setInterval(() => void this.save(), SAVE_STATE_MS));
    for (const t of this.timers) t.unref();
  }

  /** The IPv4 socket's port (kept: it is still reported after close). */
  readonly port: number;
  /** The IPv6 socket's port, or null without IPv6. */
  readonly port6: number | null;

  /** As DualDht.bootstrap, with host names resolved first (a query must go to the address its answer comes from). */
  override async bootstrap(endpoints: readonly Endpoint[]): Promise<{ v4: number; v6: number }> {
    const resolved = await Promise.all(
      endpoints.map(async (e): Promise<Endpoint[]> => {
        const ip = parseIp(e.host);
        if (ip !== null) return [{ host: ip.length === 16 && e.host.toLowerCase().startsWith('::ffff:') ? e.host.slice(7) : e.host, port: e.port }];
        try {
          const all = await lookup(e.host, { all: true });
          return all.filter((a) => a.family === 4 || this.v6 !== null).map((a) => ({ host: a.address, port: e.port }));
        } catch (err) {
          this.opts.onWarning?.(`DHT bootstrap ${e.host}: ${(err as Error).message}`);
          return [];
        }
      }),
    );
    return super.bootstrap(resolved.flat());
  }

  /** Writes the state file now (if there is one); a failure is a warning. */
  async save(): Promise<void> {
    const file = this.opts.statePath;
    if (!file) return;
    const contacts = (t: RoutingTable): NodeContact[] => t.toJSON().nodes.map((n) => ({ id: idFromHex(n.id)!, host: n.host, port: n.port }));
    const state: DhtState = { id: this.v4.id, id6: this.v6?.id ?? null, nodes4: contacts(this.v4.table), nodes6: this.v6 ? contacts(this.v6.table) : [] };
    await writeDhtState(file, state).catch((e: Error) => this.opts.onWarning?.(`could not save the DHT state to ${file}: ${e.message}`));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.save();
    for (const n of this.nodes) n.close();
    await Promise.all([this.socket4, this.socket6].map((s) => s && new Promise<void>((r) => s.close(() => r()))));
  }
}

export async function startUdpDht(opts: UdpDhtOptions = {}): Promise<UdpDht> {
  const state = opts.statePath ? await readDhtState(opts.statePath, opts.onWarning) : null;
  const nodeOpts = { random: opts.random, randomBytes: opts.randomBytes, timeoutMs: opts.timeoutMs, sourceRate: opts.sourceRate, enforceNodeId: opts.enforceNodeId, bep42Id: opts.bep42Id };
  const id = opts.id ?? state?.id ?? undefined;
  const timers = UNREF_TIMERS;
  const make = (socket: dgram.Socket, family: 4 | 6, nodeId: Uint8Array | undefined, restore: NodeContact[]) => {
    const node = new DhtNode({ ...nodeOpts, id: nodeId, family, restore, timers, transport: { send: (packet, h, p) => void socket.send(packet, p, h) } });
    socket.on('message', (msg, rinfo) => node.onPacket(msg, { host: rinfo.address, port: rinfo.port }));
    return node;
  };

  const socket4 = await bound(dgram.createSocket({ type: 'udp4' }), opts.port ?? 0, opts.host ?? '0.0.0.0');
  const v4 = make(socket4, 4, id, state?.nodes4 ?? []);
  let socket6: dgram.Socket | null = null;
  if (opts.ipv6 ?? true) {
    try {
      socket6 = await bound(dgram.createSocket({ type: 'udp6', ipv6Only: true }), opts.port6 ?? opts.port ?? 0, opts.host6 ?? '::');
    } catch (e) {
      opts.onWarning?.(`DHT over IPv6 is off: ${(e as Error).message}`);
    }
  }
  // One id for both unless the last run had BEP 42 give the IPv6 node its own.
  const v6 = socket6 && make(socket6, 6, opts.id ?? state?.id6 ?? v4.id, state?.nodes6 ?? []);
  const dht = new UdpDht(v4, v6, socket4, socket6, opts);
  if (opts.bootstrap?.length || dht.nodes.some((n) => n.table.size > 0)) await dht.bootstrap(opts.bootstrap ?? []);
  return dht;
}

/** Binds the socket; afterwards its errors (ICMP unreachable on some systems) are ignored: the query times out. */
async function bound(socket: dgram.Socket, port: number, host: string): Promise<dgram.Socket> {
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      // A socket whose bind failed is not running, and close() would throw that at us.
      try {
        socket.close();
      } catch {
        /* already closed */
      }
      reject(e);
    };
    socket.once('error', fail);
    socket.bind(port, host, () => {
      socket.off('error', fail);
      resolve();
    });
  });
  socket.on('error', () => {});
  return socket;
}
