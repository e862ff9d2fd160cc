/**
 * seedbank's DHT node against a DHT of real libtorrent 2.0.8 sessions on loopback (BEP 5, 44):
 * it joins through one libtorrent node, finds a libtorrent seed by its info hash, announces itself
 * where libtorrent's get_peers finds it, and publishes a signed mutable item that libtorrent reads
 * back with its own signature check. Everything on 127.0.0.1; the libtorrent sessions have their
 * loopback restrictions switched off (lt_dht.py).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { generateKeys, mutableTarget, signMutable } from '../../src/codec/bep44.js';
import { RpcError } from '../../src/dht/rpc.js';
import { type UdpDht, startUdpDht } from '../../src/dht/udp.js';
import { CLI, runCli } from '../helpers/cli.js';
import { type Background, PYTHON, background, repoRoot, LIBTORRENT_SKIP, requireLibtorrentInCi } from '../helpers/procs.js';

const LT_DHT = path.join(repoRoot(), 'test', 'interop', 'lt_dht.py');
const SKIP = LIBTORRENT_SKIP;
const TEST_MS = 120_000;

let tmp: string;
let lt: Background;
let ready: { dhtPorts: number[]; btPort: number; v1: string; v2: string };
let dht: UdpDht;
let data: Buffer;

/** Retries `fn` once a second until it returns a value, at most `tries` times. */
async function poll<T>(fn: () => Promise<T | null>, tries: number): Promise<T | null> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return null;
}

describe('DHT interop with libtorrent', { skip: SKIP }, () => {
  before(async () => {
    requireLibtorrentInCi();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-lt-dht-'));
    await mkdir(path.join(tmp, 'ds'));
    data = randomBytes(100_000);
    await writeFile(path.join(tmp, 'ds', 'a.bin'), data);
    lt = background(PYTHON, [LT_DHT, 'swarm', path.join(tmp, 'ds'), '--nodes', '5', '--timeout', '150']);
    ready = (await lt.waitFor((l) => l.event === 'ready', 60_000)) as unknown as typeof ready;
    dht = await startUdpDht({ host: '127.0.0.1', bootstrap: [{ host: '127.0.0.1', port: ready.dhtPorts[1]! }] });
  });
  after(async () => {
    await dht?.close();
    if (lt) {
      lt.proc.stdin?.end();
      await lt.stop();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('joins through one libtorrent node and finds the libtorrent seed by its v1 info hash', { timeout: TEST_MS }, async () => {
    assert.ok(dht.node.table.size >= 3, `routing table holds ${dht.node.table.size} nodes`);
    const found = await poll(async () => {
      const r = await dht.node.getPeers(Buffer.from(ready.v1, 'hex'));
      return r.values.some((p) => p.host === '127.0.0.1' && p.port === ready.btPort) ? r : null;
    }, 30);
    assert.ok(found, 'the seed was announced by libtorrent and found by seedbank');
    // And by the v2 info hash truncated to 20 bytes (BEP 52: how v2 torrents use the DHT).
    const v2 = await poll(async () => {
      const r = await dht.node.getPeers(Buffer.from(ready.v2, 'hex').subarray(0, 20));
      return r.values.some((p) => p.port === ready.btPort) ? r : null;
    }, 30);
    assert.ok(v2, 'found by the truncated v2 hash too');
  });

  it('announces itself where libtorrent finds it', { timeout: TEST_MS }, async () => {
    const infoHash = randomBytes(20);
    const a = await dht.node.announce(infoHash, 45678);
    assert.ok(a.announcedTo >= 1, `announced to ${a.announcedTo} libtorrent nodes`);
    const seen = await poll(async () => {
      const before = lt.lines.length;
      lt.proc.stdin!.write(`get_peers ${infoHash.toString('hex')}\n`);
      const r = await lt.waitFor((l) => l.event === 'peers' && l.hash === infoHash.toString('hex') && lt.lines.indexOf(l) >= before, 20_000).catch(() => null);
      const peers = (r?.peers as string[] | undefined) ?? [];
      return peers.includes('127.0.0.1:45678') ? peers : null;
    }, 10);
    assert.ok(seen, 'libtorrent found the peer seedbank announced');
  });

  it('publishes a signed mutable item (BEP 44) that libtorrent reads back, signature checked, and a newer seq replaces it', { timeout: TEST_MS }, async () => {
    const keys = generateKeys();
    const salt = Buffer.from('dataset');
    const value = bencode(new Map([['ih', Buffer.alloc(20, 0x11)]]));
    const put = await dht.node.putMutable(keys, { salt, seq: 1, vBencoded: value });
    assert.ok(put.storedAt >= 1, `stored at ${put.storedAt} libtorrent nodes`);
    // libtorrent reports a mutable item only once its signature checks out; its Python bindings
    // render a dictionary value only in the alert's text: "[ { 'ih': '<40 hex>' } ]" (bytes as hex
    // when any is unprintable, so the test's ih bytes are below 0x20).
    const read = async (seq: number, ih: Buffer) =>
      poll(async () => {
        const before = lt.lines.length;
        lt.proc.stdin!.write(`get_mutable ${keys.publicKey.toString('hex')} ${salt.toString('hex')}\n`);
        const r = await lt.waitFor((l) => l.event === 'mutable' && l.key === keys.publicKey.toString('hex') && Number(l.seq) >= seq && lt.lines.indexOf(l) >= before, 20_000).catch(() => null);
        return r && Number(r.seq) === seq && String(r.message).includes(`'ih': '${ih.toString('hex')}'`) ? r : null;
      }, 10);
    assert.ok(await read(1, Buffer.alloc(20, 0x11)), 'libtorrent read seq 1 with our ih');
    const value2 = bencode(new Map([['ih', Buffer.alloc(20, 0x12)]]));
    await dht.node.putMutable(keys, { salt, seq: 2, vBencoded: value2 });
    assert.ok(await read(2, Buffer.alloc(20, 0x12)), 'libtorrent read seq 2 with the new ih');
    // Forged puts straight to a libtorrent node: a wrong signature (206) and a correctly signed but
    // lower seq (302) are refused, and libtorrent still serves version 2.
    const lt1 = { host: '127.0.0.1', port: ready.dhtPorts[1]! };
    const token = (await dht.node.ask(lt1, { method: 'get', target: mutableTarget(keys.publicKey, salt) })).token!;
    const value3 = bencode(new Map([['ih', Buffer.alloc(20, 0x13)]]));
    const refusal = (q: Parameters<typeof dht.node.ask>[1]) => dht.node.ask(lt1, q).then(() => null, (e: unknown) => (e instanceof RpcError ? e.krpcCode : e));
    assert.equal(await refusal({ method: 'put', token, value: value3, k: keys.publicKey, sig: Buffer.alloc(64, 7), seq: 3, salt }), 206, 'a forged signature is refused');
    const sig1 = signMutable(keys, { salt, seq: 1, vBencoded: value3 });
    assert.equal(await refusal({ method: 'put', token, value: value3, k: keys.publicKey, sig: sig1, seq: 1, salt }), 302, 'a lower seq is refused');
    assert.ok(await read(2, Buffer.alloc(20, 0x12)), 'libtorrent still serves seq 2');
    // seedbank reads its own name back from libtorrent nodes too.
    const mine = await dht.node.getMutable(keys.publicKey, salt);
    assert.equal(mine?.seq, 2);
  });

  for (const kind of ['v1 (btih)', 'v2 (btmh)'] as const) {
    it(`seedbank get downloads a libtorrent seed bit-exact from a magnet with only its ${kind} hash, peers from the DHT`, { timeout: TEST_MS }, async () => {
      const xt = kind.startsWith('v1') ? `urn:btih:${ready.v1}` : `urn:btmh:1220${ready.v2}`;
      const out = path.join(tmp, `get-${kind.slice(0, 2)}`);
      const r = await runCli(['get', `magnet:?xt=${xt}`, '-o', out, '--dht-bootstrap', `127.0.0.1:${ready.dhtPorts[2]}`, '--json'], { timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(path.join(out, 'ds', 'a.bin'))).equals(data), 'bit-exact');
    });
  }

  it('with no bootstrap node, the DHT learns its first nodes from a peer\'s BEP 5 port message (libtorrent\'s), and peersFrom says where peers came from', { timeout: TEST_MS }, async () => {
    const out = path.join(tmp, 'get-port-msg');
    // The rate limit keeps the transfer open for a second or two, so the ping has its answer.
    const r = await runCli(['get', `magnet:?xt=urn:btih:${ready.v1}&x.pe=127.0.0.1:${ready.btPort}`, '-o', out, '--download-rate', '64KiB', '--json'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(path.join(out, 'ds', 'a.bin'))).equals(data), 'bit-exact');
    const j = JSON.parse(r.stdout) as { peersFrom: Record<string, number>; dht: { nodes: number } | null };
    assert.ok(j.peersFrom.manual >= 1, JSON.stringify(j.peersFrom));
    assert.ok(j.dht && j.dht.nodes >= 1, `the routing table learned libtorrent's node: ${JSON.stringify(j.dht)}`);
    const none = await runCli(['get', `magnet:?xt=urn:btih:${ready.v1}&x.pe=127.0.0.1:${ready.btPort}`, '-o', `${out}-nodht`, '--no-dht', '--json'], { timeoutMs: 90_000 });
    assert.equal(none.code, 0, none.stderr);
    assert.equal((JSON.parse(none.stdout) as { dht: unknown }).dht, null, '--no-dht runs no DHT node');
  });

  it('libtorrent downloads a seedbank seed bit-exact, finding it through the DHT only', { timeout: TEST_MS }, async () => {
    const src = path.join(tmp, 'sb-src');
    await mkdir(path.join(src, 'set'), { recursive: true });
    const mine = randomBytes(150_000);
    await writeFile(path.join(src, 'set', 'b.bin'), mine);
    const torrent = path.join(tmp, 'set.torrent');
    const c = await runCli(['create', path.join(src, 'set'), '-o', torrent, '--json']);
    assert.equal(c.code, 0, c.stderr);
    const v1 = (JSON.parse(c.stdout) as { infoHashV1: string }).infoHashV1;
    const seed = background(process.execPath, [CLI, 'seed', torrent, src, '--dht-bootstrap', `127.0.0.1:${ready.dhtPorts[3]}`, '--json']);
    try {
      await seed.waitFor((l) => l.event === 'seeding', 30_000);
      const save = path.join(tmp, 'lt-got');
      await mkdir(save);
      lt.proc.stdin!.write(`download ${v1} ${save}\n`);
      await lt.waitFor((l) => l.event === 'downloaded' && l.hash === v1, 90_000);
      assert.ok((await readFile(path.join(save, 'set', 'b.bin'))).equals(mine), 'bit-exact');
    } finally {
      await seed.stop();
    }
  });

  it('a dataset name (BEP 46): publish, resolve and download; a second publish moves the name to the new version', { timeout: TEST_MS * 2 }, async () => {
    const boot = ['--dht-bootstrap', `127.0.0.1:${ready.dhtPorts[4]}`];
    const key = path.join(tmp, 'name.key');
    assert.equal((await runCli(['keygen', '-o', key])).code, 0);
    const seeds: Background[] = [];
    const version = async (tag: string) => {
      const src = path.join(tmp, `name-${tag}`);
      await mkdir(path.join(src, 'weights'), { recursive: true });
      const bytes = randomBytes(90_000);
      await writeFile(path.join(src, 'weights', 'model.bin'), bytes);
      const torrent = path.join(tmp, `name-${tag}.torrent`);
      assert.equal((await runCli(['create', path.join(src, 'weights'), '-o', torrent])).code, 0);
      const seed = background(process.execPath, [CLI, 'seed', torrent, src, ...boot, '--json']);
      seeds.push(seed);
      await seed.waitFor((l) => l.event === 'seeding', 30_000);
      return { torrent, bytes };
    };
    try {
      for (const [i, tag] of ['v1', 'v2'].entries()) {
        const v = await version(tag);
        const pub = await runCli(['name', 'publish', v.torrent, '--key', key, '--salt', 'resnet', ...boot, '--json']);
        assert.equal(pub.code, 0, pub.stderr);
        const p = JSON.parse(pub.stdout) as { name: string; seq: number };
        assert.equal(p.seq, i + 1, 'each publish is the next version');
        assert.match(p.name, /^magnet:\?xs=urn:btpk:[0-9a-f]{64}&s=[0-9a-f]+$/);
        const out = path.join(tmp, `name-got-${tag}`);
        const got = await runCli(['get', p.name, '-o', out, ...boot, '--json'], { timeoutMs: 90_000 });
        assert.equal(got.code, 0, got.stderr);
        assert.ok((await readFile(path.join(out, 'weights', 'model.bin'))).equals(v.bytes), `version ${i + 1} bit-exact`);
      }
    } finally {
      await Promise.all(seeds.map((b) => b.stop()));
    }
  });
});
