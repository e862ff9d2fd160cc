/**
 * startUdpDht on loopback: dual-stack nodes find each other's announced peers over IPv6 alone
 * (BEP 32), IPv4-only nodes still work as before, and the routing table survives a restart
 * through the state file (and a corrupt state file is ignored).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { idsEqual } from '../../src/codec/dht-id.js';
import { type UdpDht, startUdpDht } from '../../src/dht/udp.js';

let dir: string;
const open: UdpDht[] = [];
async function start(opts: Parameters<typeof startUdpDht>[0]): Promise<UdpDht> {
  const d = await startUdpDht(opts);
  open.push(d);
  return d;
}
async function stop(d: UdpDht): Promise<void> {
  open.splice(open.indexOf(d), 1);
  await d.close();
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'seedbank-dht6-'));
});
after(async () => {
  await Promise.all(open.map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('DHT on UDP, dual stack', () => {
  it('two dual-stack nodes and a third find an announced peer over IPv6 (::1) alone', async (t) => {
    const a = await start({ host: '127.0.0.1', host6: '::1' });
    if (a.v6 === null || a.port6 === null) {
      t.skip('IPv6 loopback (::1) is not available here');
      return;
    }
    const via6 = [{ host: '::1', port: a.port6 }];
    const b = await start({ host: '127.0.0.1', host6: '::1', bootstrap: via6 });
    const c = await start({ host: '127.0.0.1', host6: '::1', bootstrap: via6 });
    assert.equal(b.tableSizes().v4, 0, 'IPv4 was never used');
    assert.ok(b.tableSizes().v6 >= 1);
    const hash = Buffer.alloc(20, 0x42);
    const announced = await b.announce(hash, 4321);
    assert.ok(announced.announcedTo >= 1, `announced to ${announced.announcedTo}`);
    const peers = await c.getPeers(hash);
    assert.deepEqual(peers, [{ host: '::1', port: 4321 }]);
    const s = a.status();
    assert.equal(s.v4.nodes, 0);
    assert.ok(s.v6 !== null && s.v6.nodes >= 2 && s.v6.peers === 1 && s.v6.queriesAnswered > 0);
    assert.equal(s.v6.externalAddress, null, 'two responders are no quorum');
    assert.ok(a.node === a.v4, 'UdpDht.node is still the IPv4 node');
  });

  it('with ipv6: false it is the IPv4 DHT it was', async () => {
    const a = await start({ host: '127.0.0.1', ipv6: false });
    const b = await start({ host: '127.0.0.1', ipv6: false, bootstrap: [{ host: '127.0.0.1', port: a.port }] });
    assert.equal(b.v6, null);
    assert.equal(b.port6, null);
    assert.equal(b.status().v6, null);
    assert.equal(b.node.table.size, 1);
    const hash = Buffer.alloc(20, 0x17);
    assert.equal((await b.node.announce(hash, 999)).announcedTo, 1);
    assert.ok(a.node.peers.get(hash, 10).some((p) => p.host === '127.0.0.1' && p.port === 999));
  });
});

describe('DHT state file', () => {
  it('a restarted node has its id and the saved nodes before any bootstrap, and pings them', async () => {
    const statePath = path.join(dir, 'not', 'yet', 'dht.json');
    const peer = await start({ host: '127.0.0.1', ipv6: false });
    const first = await start({ host: '127.0.0.1', ipv6: false, statePath, bootstrap: [{ host: '127.0.0.1', port: peer.port }] });
    const id = first.node.id;
    await stop(first);
    const st = await stat(statePath);
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual(await readdir(path.dirname(statePath)), ['dht.json'], 'no temporary file left');
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { version: number; id: string; nodes4: { host: string; port: number }[]; nodes6: unknown[] };
    assert.equal(saved.version, 1);
    assert.equal(saved.id, Buffer.from(id).toString('hex'));
    assert.deepEqual(saved.nodes4.map((n) => [n.host, n.port]), [['127.0.0.1', peer.port]]);

    const answeredBefore = peer.node.counters.queriesAnswered;
    const again = await start({ host: '127.0.0.1', ipv6: false, statePath });
    assert.ok(idsEqual(again.node.id, id), 'the saved id is reused');
    assert.ok(again.node.table.get(peer.node.id), 'the saved node is known without a bootstrap');
    assert.equal(again.node.table.state(peer.node.id), 'good', 'and it answered our ping');
    assert.ok(peer.node.counters.queriesAnswered > answeredBefore);
  });

  it('a corrupt state file is ignored with a warning, and replaced on close', async () => {
    const statePath = path.join(dir, 'corrupt.json');
    await writeFile(statePath, '{"version": 1, "nodes4": [');
    const warnings: string[] = [];
    const d = await start({ host: '127.0.0.1', ipv6: false, statePath, onWarning: (m) => warnings.push(m) });
    assert.equal(d.node.table.size, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /corrupt\.json.*not JSON/);
    await stop(d);
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { version: number; id: string };
    assert.equal(saved.version, 1);
    assert.equal(saved.id, Buffer.from(d.node.id).toString('hex'));
  });
});
