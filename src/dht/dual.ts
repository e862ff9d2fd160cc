/**
 * A dual-stack DHT (BEP 32): one DhtNode per address family, each with its own routing table, run
 * as one. Lookups and stores go through both families and their results are merged: peers once
 * each, the newest correctly signed mutable item, the stores of both counted.
 *
 * For: routing work to the node of the right family and merging what comes back. Not for: sockets
 * (udp.ts) or how a node answers; each node answers from its own table, and asks for the other
 * family's nodes (BEP 32 `want`) only while its sibling's table is nearly empty (node.ts).
 */
import { compareDistance } from '../codec/dht-id.js';
import { type Ed25519Keys } from '../codec/bep44.js';
import { type Endpoint, type NodeInfo } from '../codec/krpc.js';
import { type DhtNode, type DhtNodeStatus, type MutableItem } from './node.js';
import { addressKey } from './rpc.js';

/** Nodes restored from a state file that bootstrap pings (a full table would be over a thousand pings at once). */
const RESTORED_PINGS = 32;

export interface DualDhtStatus {
  v4: DhtNodeStatus;
  /** Null when IPv6 is not available. */
  v6: DhtNodeStatus | null;
}

export class DualDht {
  constructor(
    readonly v4: DhtNode,
    readonly v6: DhtNode | null,
  ) {
    if (v6) {
      v4.sibling = v6;
      v6.sibling = v4;
    }
  }

  /** The IPv4 node, as callers written before IPv6 know it. */
  get node(): DhtNode {
    return this.v4;
  }

  /** Both nodes (IPv4 first). */
  get nodes(): DhtNode[] {
    return this.v6 ? [this.v4, this.v6] : [this.v4];
  }

  /** The node for an address: IPv6 literals go to the IPv6 node (null without one), anything else to IPv4. */
  nodeFor(host: string): DhtNode | null {
    return isV6(host) ? this.v6 : this.v4;
  }

  /**
   * Joins through `endpoints`, each by the node of its family, and through the nodes already in the
   * tables (restored from the last run). A family given no way in still fills from the nodes of
   * its family that the other family's answers named. Returns the table sizes.
   */
  async bootstrap(endpoints: readonly Endpoint[]): Promise<{ v4: number; v6: number }> {
    const mine = (n: DhtNode) => endpoints.filter((e) => this.nodeFor(e.host) === n);
    // A few restored nodes are pinged; the lookup of our id that follows asks the others it needs.
    const saved = (n: DhtNode): Endpoint[] => n.table.closest(n.id, RESTORED_PINGS).map((e) => ({ host: e.host, port: e.port }));
    const ways = this.nodes.map((n) => [...mine(n), ...saved(n)]);
    await Promise.all(this.nodes.map((n, i) => (ways[i]!.length ? n.bootstrap(ways[i]!) : null)));
    await Promise.all(this.nodes.map((n, i) => (ways[i]!.length === 0 && n.table.size > 0 ? n.findNode(n.id).catch(() => null) : null)));
    return this.tableSizes();
  }

  /** The nodes nearest `target` in both families, nearest first. */
  async findNode(target: Uint8Array): Promise<NodeInfo[]> {
    const found = await Promise.all(this.nodes.map((n) => n.findNode(target)));
    const all = found.flatMap((r) => r.closest.map((c) => ({ id: c.id, host: c.host, port: c.port })));
    return all.sort((a, b) => compareDistance(target, a.id, b.id));
  }

  /** Peers of an info hash from both families, each address once. */
  async getPeers(infoHash: Uint8Array): Promise<Endpoint[]> {
    const found = await Promise.all(this.nodes.map((n) => n.getPeers(infoHash)));
    return uniquePeers(found.flatMap((r) => r.values));
  }

  /** Announces us in both families; `announcedTo` counts the nodes of both that took it. */
  async announce(infoHash: Uint8Array, port: number, impliedPort = false): Promise<{ peers: Endpoint[]; announcedTo: number }> {
    const done = await Promise.all(this.nodes.map((n) => n.announce(infoHash, port, impliedPort)));
    return { peers: uniquePeers(done.flatMap((r) => r.peers)), announcedTo: sum(done.map((r) => r.announcedTo)) };
  }

  async putImmutable(vBencoded: Uint8Array): Promise<{ target: Buffer; storedAt: number }> {
    const done = await Promise.all(this.nodes.map((n) => n.putImmutable(vBencoded)));
    return { target: done[0]!.target, storedAt: sum(done.map((r) => r.storedAt)) };
  }

  /** The value (checked against its target by the node) from whichever family has it. */
  async getImmutable(target: Uint8Array): Promise<Uint8Array | null> {
    const found = await Promise.all(this.nodes.map((n) => n.getImmutable(target)));
    return found.find((v) => v !== null) ?? null;
  }

  async putMutable(keys: Ed25519Keys, item: { salt?: Uint8Array; seq: number; vBencoded: Uint8Array; cas?: number }): Promise<{ target: Buffer; storedAt: number }> {
    const done = await Promise.all(this.nodes.map((n) => n.putMutable(keys, item)));
    return { target: done[0]!.target, storedAt: sum(done.map((r) => r.storedAt)) };
  }

  /** The newest correctly signed version in either family (each node checks signatures). */
  async getMutable(k: Uint8Array, salt?: Uint8Array): Promise<MutableItem | null> {
    const found = await Promise.all(this.nodes.map((n) => n.getMutable(k, salt)));
    return found.reduce<MutableItem | null>((best, x) => (x !== null && (best === null || x.seq > best.seq) ? x : best), null);
  }

  tableSizes(): { v4: number; v6: number } {
    return { v4: this.v4.table.size, v6: this.v6?.table.size ?? 0 };
  }

  status(): DualDhtStatus {
    return { v4: this.v4.status(), v6: this.v6?.status() ?? null };
  }

  /** Upkeep of both nodes (about once a minute). */
  maintain(): void {
    for (const n of this.nodes) n.maintain();
  }
}

function isV6(host: string): boolean {
  return host.includes(':') && !host.toLowerCase().startsWith('::ffff:');
}

function uniquePeers(list: readonly Endpoint[]): Endpoint[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const key = addressKey(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
