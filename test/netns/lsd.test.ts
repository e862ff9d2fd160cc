/**
 * Local service discovery (BEP 14) between two real hosts: network namespaces joined by a bridge
 * (bench/swarm/netns.ts builds them), a `seedbank seed --lsd eth0` on one and a `seedbank get
 * --lsd eth0` on the other, with no tracker, no DHT and no --peer: the only way they can find each
 * other is a multicast announce on the link. Needs root (ip netns); skipped with the reason
 * otherwise. CI runs as root.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Network, createNetwork, removeLeftovers, removeNetwork } from '../../bench/swarm/netns.js';
import { LSD_GROUP_V4, LSD_PORT } from '../../src/codec/lsd.js';
import { isOneLine } from '../helpers/cli.js';
import { type Background, CLI, background } from '../helpers/procs.js';

const SKIP: false | string = (() => {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'ip netns is not available (iproute2 missing or no namespace support)';
  }
})();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI inside namespace `ns`; killed (SIGKILL) after `timeoutMs`. */
function cliIn(ns: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

function udpListeners(ns: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'ss', '-lun'], { encoding: 'utf8' });
}

describe('LSD between two network namespaces', { skip: SKIP }, () => {
  let net: Network | null = null;
  let tmp = '';
  let torrent = '';
  let hashes: string[] = [];
  const files: Array<[string, Buffer]> = [
    ['a.bin', randomBytes(300_000)],
    [path.join('sub', 'b.bin'), randomBytes(40_000)],
    ['c.txt', Buffer.from('hello lsd\n')],
  ];
  // Watches the root namespace for any LSD packet about our torrent (see the last test).
  let watcher: dgram.Socket | null = null;
  const leaked: string[] = [];
  let controlSeen = false;

  before(async () => {
    removeLeftovers();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-lsd-'));
    const ds = path.join(tmp, 'data', 'ds');
    await mkdir(path.join(ds, 'sub'), { recursive: true });
    for (const [name, bytes] of files) await writeFile(path.join(ds, name), bytes);
    torrent = path.join(tmp, 'ds.torrent');
    const c = await new Promise<Run>((resolve) =>
      execFile(process.execPath, [CLI, 'create', ds, '-o', torrent, '--hybrid', '--piece-length', '16384', '--json'], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })),
    );
    assert.equal(c.code, 0, c.stderr);
    const info = JSON.parse(c.stdout) as { infoHashV1: string; infoHashV2: string };
    // The hybrid torrent's two 20-byte keys, as an announce carries them.
    hashes = [info.infoHashV1, info.infoHashV2.slice(0, 40)];
    assert.equal(hashes.length, 2);
    net = createNetwork([
      { upBits: 1e9, downBits: 0 },
      { upBits: 1e9, downBits: 0 },
    ]);
    watcher = await watchRootNamespace((text) => {
      if (text.includes(CONTROL)) controlSeen = true;
      if (hashes.some((h) => text.toLowerCase().includes(h))) leaked.push(text);
    });
    // Positive control: the watcher does hear the group (sent on lo only, so nothing leaves the machine).
    await sendControl();
    for (let i = 0; i < 40 && !controlSeen; i++) await new Promise((r) => setTimeout(r, 50));
  });

  after(async () => {
    await new Promise<void>((r) => (watcher ? watcher.close(() => r()) : r()));
    if (net) removeNetwork(net.prefix);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('get finds the seed by LSD alone (no tracker, DHT or --peer) and downloads bit-exact', async () => {
    const [h0, h1] = net!.hosts;
    const out = path.join(tmp, 'out');
    let seed: Background | null = null;
    try {
      seed = background('ip', ['netns', 'exec', h0!.ns, process.execPath, CLI, 'seed', torrent, path.join(tmp, 'data'), '--lsd', 'eth0', '--json']);
      await seed.waitFor((l) => l['event'] === 'seeding', 30_000);
      assert.match(udpListeners(h0!.ns), new RegExp(`:${LSD_PORT}\\b`), 'the seed listens on the LSD port');
      const get = await cliIn(h1!.ns, ['get', torrent, '-o', out, '--lsd', 'eth0', '--json'], 90_000);
      assert.equal(get.code, 0, `get exited ${get.code}: ${get.stderr.slice(-2000)}`);
      const summary = JSON.parse(get.stdout) as { complete: boolean; bytesDownloaded: { peers: number; origins: number }; peersFrom: Record<string, number> };
      assert.equal(summary.complete, true);
      // Whichever side hears the other's announce first dials: the getter counts the seed as
      // incoming or from LSD, and the seed reports LSD when it stops (below).
      assert.ok(summary.peersFrom.tracker === 0 && summary.peersFrom.dht === 0 && summary.peersFrom.lsd + summary.peersFrom.incoming >= 1, JSON.stringify(summary.peersFrom));
      assert.ok(summary.bytesDownloaded.peers >= files.reduce((n, [, b]) => n + b.length, 0), 'every byte came from the peer');
      for (const [name, bytes] of files) assert.ok(bytes.equals(await readFile(path.join(out, 'ds', name))), `${name} differs`);
      await seed.stop();
      const stopped = seed.lines.find((l) => l['event'] === 'stopped') as { peersFrom: Record<string, number> } | undefined;
      const both = (stopped?.peersFrom.lsd ?? 0) + summary.peersFrom.lsd;
      assert.ok(both >= 1, `one side learned the other from LSD: seed ${JSON.stringify(stopped?.peersFrom)}, get ${JSON.stringify(summary.peersFrom)}`);
    } finally {
      await seed?.stop();
    }
  });

  it('control: without --lsd the same get finds no one (killed after 5 s with nothing downloaded)', async () => {
    const [h0, h1] = net!.hosts;
    const out = path.join(tmp, 'out-no-lsd');
    let seed: Background | null = null;
    try {
      seed = background('ip', ['netns', 'exec', h0!.ns, process.execPath, CLI, 'seed', torrent, path.join(tmp, 'data'), '--lsd', 'eth0', '--json']);
      await seed.waitFor((l) => l['event'] === 'seeding', 30_000);
      const get = await cliIn(h1!.ns, ['get', torrent, '-o', out, '--json'], 5_000);
      assert.equal(get.code, null, 'killed: it could not finish');
      assert.equal(get.stdout, '');
    } finally {
      await seed?.stop();
    }
  });

  it('without --lsd nothing listens on the LSD port', async () => {
    const [h0] = net!.hosts;
    let seed: Background | null = null;
    try {
      seed = background('ip', ['netns', 'exec', h0!.ns, process.execPath, CLI, 'seed', torrent, path.join(tmp, 'data'), '--json']);
      await seed.waitFor((l) => l['event'] === 'seeding', 30_000);
      const listeners = udpListeners(h0!.ns);
      assert.doesNotMatch(listeners, new RegExp(`:${LSD_PORT}\\b`), listeners);
    } finally {
      await seed?.stop();
    }
  });

  it('a private torrent with --lsd does not use LSD (BEP 27): nothing listens on the LSD port', async () => {
    const [h0] = net!.hosts;
    const priv = path.join(tmp, 'ds-private.torrent');
    const c = await new Promise<Run>((resolve) =>
      execFile(process.execPath, [CLI, 'create', path.join(tmp, 'data', 'ds'), '-o', priv, '--private', '--piece-length', '16384'], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })),
    );
    assert.equal(c.code, 0, c.stderr);
    let seed: Background | null = null;
    try {
      seed = background('ip', ['netns', 'exec', h0!.ns, process.execPath, CLI, 'seed', priv, path.join(tmp, 'data'), '--lsd', 'eth0', '--json']);
      await seed.waitFor((l) => l['event'] === 'seeding', 30_000);
      const listeners = udpListeners(h0!.ns);
      assert.doesNotMatch(listeners, new RegExp(`:${LSD_PORT}\\b`), listeners);
    } finally {
      await seed?.stop();
    }
  });

  it('an unknown interface is one usage line naming the interfaces there are', async () => {
    const [h0] = net!.hosts;
    const r = await cliIn(h0!.ns, ['seed', torrent, path.join(tmp, 'data'), '--lsd', 'eth9'], 30_000);
    assert.equal(r.code, 2);
    assert.ok(isOneLine(r.stderr), r.stderr);
    assert.equal(r.stderr.trim(), 'seedbank: --lsd eth9: no such interface (have: lo, eth0)');
  });

  it('over IPv6 alone (the ff15::efc0:988f group): with the hosts\' IPv4 addresses removed, get still finds the seed', async () => {
    // Last but one on purpose: it takes the IPv4 addresses away from the hosts for good.
    const [h0, h1] = net!.hosts;
    for (const [i, h] of [h0!, h1!].entries()) {
      execFileSync('ip', ['-n', h.ns, 'addr', 'del', `${h.ip}/16`, 'dev', 'eth0']);
      // nodad: usable at once, no duplicate address detection to wait for.
      execFileSync('ip', ['-n', h.ns, 'addr', 'add', `fd5b::${i + 1}/64`, 'dev', 'eth0', 'nodad']);
    }
    const out = path.join(tmp, 'out-v6');
    let seed: Background | null = null;
    try {
      seed = background('ip', ['netns', 'exec', h0!.ns, process.execPath, CLI, 'seed', torrent, path.join(tmp, 'data'), '--lsd', 'eth0', '--json']);
      await seed.waitFor((l) => l['event'] === 'seeding', 30_000);
      const get = await cliIn(h1!.ns, ['get', torrent, '-o', out, '--lsd', 'eth0', '--json'], 90_000);
      assert.equal(get.code, 0, `get exited ${get.code}: ${get.stderr.slice(-2000)}`);
      for (const [name, bytes] of files) assert.ok(bytes.equals(await readFile(path.join(out, 'ds', name))), `${name} differs`);
      const summary = JSON.parse(get.stdout) as { peersFrom: Record<string, number> };
      assert.ok(summary.peersFrom.tracker === 0 && summary.peersFrom.dht === 0 && summary.peersFrom.lsd + summary.peersFrom.incoming >= 1, JSON.stringify(summary.peersFrom));
    } finally {
      await seed?.stop();
    }
  });

  it('no announce about the torrent reached the root namespace', () => {
    // Why this holds, and what it guards: the hosts' only link is a veth into the switch
    // namespace's bridge, and nothing joins that bridge to the root namespace, so a packet from a
    // host cannot arrive here unless a seedbank process ran outside its namespace or multicast
    // escaped through some other path (a route, a shared socket). The watcher joined the group on
    // every root IPv4 address (lo included, where the kernel allows it), bound like an LSD client
    // (0.0.0.0:6771, SO_REUSEADDR), during both transfers above. Only packets naming our torrent
    // count, so another LSD client on this machine cannot make the test fail.
    assert.ok(watcher, 'the watcher was listening');
    assert.ok(controlSeen, 'the watcher heard the control packet sent on 127.0.0.1');
    assert.deepEqual(leaked, []);
  });
});

const CONTROL = 'seedbank-lsd-test-control';

async function sendControl(): Promise<void> {
  const s = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  s.setMulticastInterface('127.0.0.1');
  s.setMulticastLoopback(true);
  s.setMulticastTTL(1);
  await new Promise<void>((r) => s.send(CONTROL, LSD_PORT, LSD_GROUP_V4, () => r()));
  await new Promise<void>((r) => s.close(() => r()));
}

/** An LSD listener in the root namespace on every IPv4 address it has; `onPacket` gets each packet as text. */
async function watchRootNamespace(onPacket: (text: string) => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (msg) => onPacket(msg.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(LSD_PORT, '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
  let joined = 0;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      try {
        socket.addMembership(LSD_GROUP_V4, a.address);
        joined++;
      } catch {
        // An interface without multicast (lo on some kernels) cannot join; the others still watch.
      }
    }
  }
  assert.ok(joined > 0, 'the root namespace watcher joined the LSD group on no interface');
  return socket;
}
