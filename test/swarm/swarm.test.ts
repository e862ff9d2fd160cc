/**
 * Swarms on loopback in one process, through the public library API: 1 seed and 8 downloaders
 * that start together; a peer that serves corrupt data; resume after a stop.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventChannel, type Metainfo, type Transfer, createTorrent, startDownload, startSeeding, verifyData } from '../../src/index.js';

let tmp: string;
let t: Metainfo;
let tSmall: Metainfo;
const SIZE = { a: 3_000_000, b: 1_234_567, c: 100 };

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-swarm-'));
  const ds = path.join(tmp, 'seed', 'ds');
  await mkdir(path.join(ds, 'sub'), { recursive: true });
  await writeFile(path.join(ds, 'a.bin'), randomBytes(SIZE.a));
  await writeFile(path.join(ds, 'sub', 'b.bin'), randomBytes(SIZE.b));
  await writeFile(path.join(ds, 'c.txt'), randomBytes(SIZE.c));
  await writeFile(path.join(ds, 'empty'), '');
  // 16 KiB pieces: many pieces, so peers have something to trade.
  t = (await createTorrent(ds, { pieceLength: 16384 })).metainfo;
  tSmall = t;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function sameBytes(dir: string): Promise<void> {
  for (const rel of ['a.bin', 'sub/b.bin', 'c.txt', 'empty']) {
    const want = await readFile(path.join(tmp, 'seed', 'ds', rel));
    const got = await readFile(path.join(dir, 'ds', rel));
    assert.ok(want.equals(got), `${rel} differs in ${dir}`);
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms).unref())]);
}

describe('swarm on loopback', () => {
  it('1 seed and 8 downloaders starting together all finish bit-exact, and the seed uploads far less than 8 copies', async () => {
    // The seed's upload is capped, as on any real link (on loopback nothing is the bottleneck, and
    // a seed that can serve 8 copies at once has no reason not to): the swarm must spread the data.
    const seed = await startSeeding(t, { dataDir: path.join(tmp, 'seed'), port: 0, uploadRate: 2 * 1024 * 1024 });
    const nodes: Transfer[] = [];
    try {
      for (let i = 0; i < 8; i++) nodes.push(await startDownload(t, { dataDir: path.join(tmp, `node${i}`), port: 0 }));
      // Everyone knows the seed and every other node, as a tracker would tell them.
      for (const n of nodes) {
        n.torrent.addPeer('127.0.0.1', seed.session.port, 'manual');
        for (const m of nodes) if (m !== n) n.torrent.addPeer('127.0.0.1', m.session.port, 'manual');
      }
      await within(Promise.all(nodes.map((n) => n.torrent.done)), 60_000, 'swarm');
      for (let i = 0; i < 8; i++) await sameBytes(path.join(tmp, `node${i}`));
      const data = SIZE.a + SIZE.b + SIZE.c;
      const seedUp = seed.stats().bytesUploaded;
      const peerUp = nodes.reduce((s, n) => s + n.stats().bytesUploaded, 0);
      assert.ok(seedUp < 3 * data, `seed uploaded ${seedUp} bytes, ${(seedUp / data).toFixed(2)} copies`);
      assert.ok(peerUp > 0, 'downloaders served each other');
    } finally {
      await Promise.all([seed.stop(), ...nodes.map((n) => n.stop())]);
    }
  });

  for (const pieceLength of [16384, 65536]) it(`bans a peer that sends corrupt data, never the honest one, and completes (${pieceLength / 1024} KiB pieces)`, async () => {
    const t = pieceLength === 16384 ? tSmall : (await createTorrent(path.join(tmp, 'seed', 'ds'), { pieceLength, creationDate: null })).metainfo;
    // A liar: seeds a copy whose a.bin we corrupt after its start-up check passed.
    const liarDir = path.join(tmp, `liar-${pieceLength}`);
    await mkdir(path.join(liarDir, 'ds', 'sub'), { recursive: true });
    for (const rel of ['a.bin', 'sub/b.bin', 'c.txt', 'empty']) await writeFile(path.join(liarDir, 'ds', rel), await readFile(path.join(tmp, 'seed', 'ds', rel)));
    const liar = await startSeeding(t, { dataDir: liarDir, port: 0 });
    const fh = await open(path.join(liarDir, 'ds', 'a.bin'), 'r+');
    await fh.write(Buffer.alloc(SIZE.a, 0x55), 0, SIZE.a, 0);
    await fh.close();
    const honest = await startSeeding(t, { dataDir: path.join(tmp, 'seed'), port: 0 });
    const events = new EventChannel();
    const banned: string[] = [];
    events.on('peer:banned', (e) => banned.push(e.peer));
    const victim = path.join(tmp, `victim-${pieceLength}`);
    const dl = await startDownload(t, { dataDir: victim, port: 0, events });
    try {
      dl.torrent.addPeer('127.0.0.1', liar.session.port, 'manual');
      dl.torrent.addPeer('127.0.0.1', honest.session.port, 'manual');
      await within(dl.torrent.done, 60_000, 'download next to a liar');
      await sameBytes(victim);
      const s = dl.stats();
      assert.ok(s.hashFailures >= 1, 'the corrupt data was caught');
      assert.deepEqual(banned, [`127.0.0.1:${liar.session.port}`]);
      assert.equal(s.bannedPeers, 1);
      const report = await verifyData(t, victim);
      assert.equal(report.complete, true);
    } finally {
      await Promise.all([liar.stop(), honest.stop(), dl.stop()]);
    }
  });

  it('downloads only the files --select asks for, over IPv6 loopback', async () => {
    const seed = await startSeeding(t, { dataDir: path.join(tmp, 'seed'), port: 0 });
    const dir = path.join(tmp, 'selective');
    const events = new EventChannel();
    const connected: string[] = [];
    events.on('peer:connected', (e) => connected.push(e.peer));
    const dl = await startDownload(t, { dataDir: dir, port: 0, select: ['sub/*'], events });
    try {
      dl.torrent.addPeer('::1', seed.session.port, 'manual');
      await within(dl.torrent.done, 60_000, 'selective download');
      const want = await readFile(path.join(tmp, 'seed', 'ds', 'sub', 'b.bin'));
      assert.ok(want.equals(await readFile(path.join(dir, 'ds', 'sub', 'b.bin'))));
      // a.bin was not selected: at most the pieces it shares with nothing (hybrid aligns files) were skipped.
      assert.ok(dl.stats().bytesFromPeers < SIZE.b + 2 * t.pieceLength, `fetched ${dl.stats().bytesFromPeers} bytes for a ${SIZE.b}-byte selection`);
      await assert.rejects(readFile(path.join(dir, 'ds', 'a.bin')), /ENOENT/);
      assert.deepEqual(connected, [`[::1]:${seed.session.port}`], 'connected over IPv6');
    } finally {
      await Promise.all([seed.stop(), dl.stop()]);
    }
  });

  it('completes with large pieces, more data than the verify/write backlog bound (backpressure releases)', async () => {
    const big = path.join(tmp, 'bigsrc', 'ds');
    await mkdir(big, { recursive: true });
    await writeFile(path.join(big, 'big.bin'), randomBytes(72 * 1024 * 1024));
    const tb = (await createTorrent(big, { pieceLength: 4 * 1024 * 1024 })).metainfo;
    const seed = await startSeeding(tb, { dataDir: path.join(tmp, 'bigsrc'), port: 0 });
    const dl = await startDownload(tb, { dataDir: path.join(tmp, 'bigdst'), port: 0 });
    try {
      dl.torrent.addPeer('127.0.0.1', seed.session.port, 'manual');
      await within(dl.torrent.done, 60_000, 'large-piece download');
      assert.ok((await readFile(path.join(big, 'big.bin'))).equals(await readFile(path.join(tmp, 'bigdst', 'ds', 'big.bin'))));
    } finally {
      await Promise.all([seed.stop(), dl.stop()]);
    }
  });

  it('resumes after a stop without fetching verified pieces again', async () => {
    const seed = await startSeeding(t, { dataDir: path.join(tmp, 'seed'), port: 0 });
    const dir = path.join(tmp, 'resumer');
    const events = new EventChannel();
    let verified = 0;
    let first = await startDownload(t, { dataDir: dir, port: 0, events });
    try {
      const half = Math.floor(t.numPieces / 2);
      const reached = new Promise<void>((resolve) => events.on('torrent:piece-verified', () => ++verified >= half && resolve()));
      first.torrent.addPeer('127.0.0.1', seed.session.port, 'manual');
      await within(Promise.race([reached, first.torrent.done]), 60_000, 'first half');
      await first.stop();
      const had = first.stats().piecesHave;
      assert.ok(had > 0 && had <= t.numPieces);
      first = await startDownload(t, { dataDir: dir, port: 0 });
      assert.ok(first.resumedPieces >= had, `resumed ${first.resumedPieces} of ${had} verified pieces`);
      first.torrent.addPeer('127.0.0.1', seed.session.port, 'manual');
      await within(first.torrent.done, 60_000, 'second half');
      const fetched = first.stats().piecesHave - first.resumedPieces;
      assert.equal(fetched, t.numPieces - first.resumedPieces);
      assert.ok(first.stats().bytesFromPeers <= (t.numPieces - first.resumedPieces) * t.pieceLength);
      await sameBytes(dir);
    } finally {
      await Promise.all([seed.stop(), first.stop()]);
    }
  });
});
