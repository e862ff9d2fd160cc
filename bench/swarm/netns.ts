/**
 * The emulated network of bench/swarm: network namespaces that this module creates and removes.
 *
 * For: one benchmark run on one machine, as root. Not for: anything that must survive the run.
 *
 * Layout (every name starts with the run's prefix `sbsw<pid>-`, so two runs never collide and a
 * crashed run's leftovers can be told apart from a live run's):
 *
 *   <prefix>sw         the "switch": a bridge br0 and one veth port p<i> per host
 *   <prefix>h<i>       one host each (h0 is the origin host, h1..hN the nodes), with eth0 (the
 *                      other end of p<i>), an address in 10.203.0.0/16 and lo
 *
 * Caps are token buckets (tc tbf): a host's upload cap on its eth0 egress, an optional download cap
 * on its switch port's egress (traffic towards the host). netem is not available here, so there is
 * no artificial latency. Nothing is configured in the root namespace; the veth pairs are created
 * inside the switch namespace with their far end placed straight into the host namespace.
 */
import { execFileSync } from 'node:child_process';
import { processAlive } from '../../src/client/config.js';

/** Every namespace of this scheme: `sbsw` + the pid of the run that made it + `-`. */
const SCHEME = /^sbsw(\d+)-/;
export const SUBNET_PREFIX = '10.203';

export interface HostSpec {
  /** Upload cap, bits/s. */
  upBits: number;
  /** Download cap, bits/s; 0 = none. */
  downBits: number;
}

export interface Host {
  index: number;
  ns: string;
  ip: string;
  upBits: number;
  downBits: number;
}

export interface Network {
  prefix: string;
  switchNs: string;
  /** hosts[0] is the origin host. */
  hosts: Host[];
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tc(ns: string, args: string[]): void {
  execFileSync('tc', ['-n', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function listNamespaces(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/**
 * Kills the processes inside one namespace (they can only be ours: we made the namespace and
 * started them there), then deletes it. Synchronous, so it also works in an 'exit' handler.
 */
function removeNamespace(ns: string): void {
  try {
    const pids = ip(['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    ip(['netns', 'del', ns]);
  } catch {
    // already gone
  }
}

/** Removes every namespace of one prefix (all of this run's). */
export function removeNetwork(prefix: string): number {
  const mine = listNamespaces().filter((n) => n.startsWith(prefix));
  // Hosts first (their veth ends go with them), the switch last.
  mine.sort((a, b) => Number(a.endsWith('-sw')) - Number(b.endsWith('-sw')));
  for (const ns of mine) removeNamespace(ns);
  return mine.length;
}

/** Removes the namespaces of earlier runs of this scheme whose process is gone (a crash, kill -9). */
export function removeLeftovers(): string[] {
  const stale = new Set<string>();
  for (const ns of listNamespaces()) {
    const m = SCHEME.exec(ns);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) stale.add(`sbsw${m[1]}-`);
  }
  for (const p of stale) removeNetwork(p);
  return [...stale];
}

/** tbf with a queue of about 50 ms, and a bucket large enough for a GSO super-packet. */
function tbfArgs(dev: string, bits: number): string[] {
  const burstBytes = Math.max(64 * 1024, Math.ceil(bits / 8 / 250));
  return ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(bits)}bit`, 'burst', String(burstBytes), 'latency', '50ms'];
}

/**
 * Builds the switch and `specs.length` hosts (specs[0]: the origin host). On any failure it removes
 * what it made and throws.
 */
export function createNetwork(specs: HostSpec[]): Network {
  if (specs.length > 250) throw new Error('at most 249 nodes');
  const prefix = `sbsw${process.pid}-`;
  const switchNs = `${prefix}sw`;
  const hosts: Host[] = [];
  try {
    ip(['netns', 'add', switchNs]);
    ip(['-n', switchNs, 'link', 'set', 'lo', 'up']);
    ip(['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', switchNs, 'link', 'set', 'br0', 'up']);
    specs.forEach((s, i) => {
      const ns = `${prefix}h${i}`;
      const addr = i === 0 ? `${SUBNET_PREFIX}.0.1` : `${SUBNET_PREFIX}.1.${i}`;
      ip(['netns', 'add', ns]);
      ip(['-n', switchNs, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', switchNs, 'link', 'set', `p${i}`, 'master', 'br0']);
      ip(['-n', switchNs, 'link', 'set', `p${i}`, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr}/16`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      tc(ns, tbfArgs('eth0', s.upBits));
      if (s.downBits > 0) tc(switchNs, tbfArgs(`p${i}`, s.downBits));
      hosts.push({ index: i, ns, ip: addr, upBits: s.upBits, downBits: s.downBits });
    });
  } catch (e) {
    removeNetwork(prefix);
    const err = e as Error & { stderr?: Buffer | string };
    throw new Error(`could not build the network: ${err.message} ${String(err.stderr ?? '')}`.trim(), { cause: e });
  }
  return { prefix, switchNs, hosts };
}

/** Bytes a host has sent and received on eth0 (whole frames, headers included). */
export function wireBytes(h: Host): { tx: number; rx: number } {
  const j = JSON.parse(ip(['-n', h.ns, '-s', '-j', 'link', 'show', 'eth0'])) as Array<{ stats64?: { tx: { bytes: number }; rx: { bytes: number } } }>;
  const s = j[0]?.stats64;
  return { tx: s?.tx.bytes ?? NaN, rx: s?.rx.bytes ?? NaN };
}
