/**
 * BEP 19 web seeds against a real HTTP origin on loopback (src/origin): alone, with peers, an
 * origin that goes away, an origin that lies, presigned-style query strings and redirects.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventChannel, type Metainfo, type Transfer, createTorrent, startDownload, startSeeding } from '../../src/index.js';
import { type HttpOrigin, type OriginOptions, startOrigin } from '../../src/origin/http-origin.js';

let tmp: string;
/** Multi-file hybrid with pad files (files that are not multiples of the piece length). */
let multi: Metainfo;
let single: Metainfo;
const FILES: Record<string, number> = { 'a.bin': 300_001, 'sub/b.bin': 1_234_567, 'sub/deeper/c.txt': 100, 'empty': 0, 'z.bin': 2 * 65536 };

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-webseed-'));
  const ds = path.join(tmp, 'bucket', 'ds');
  for (const [rel, n] of Object.entries(FILES)) {
    await mkdir(path.dirname(path.join(ds, rel)), { recursive: true });
    await writeFile(path.join(ds, rel), randomBytes(n));
  }
  multi = (await createTorrent(ds, { pieceLength: 65536 })).metainfo;
  assert.ok(multi.files.some((f) => f.pad), 'the multi-file torrent has pad files');
  await writeFile(path.join(tmp, 'bucket', 'one.bin'), randomBytes(777_777));
  single = (await createTorrent(path.join(tmp, 'bucket', 'one.bin'), { pieceLength: 32768 })).metainfo;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms).unref())]);
}

async function sameMulti(dir: string): Promise<void> {
  for (const rel of Object.keys(FILES)) {
    const want = await readFile(path.join(tmp, 'bucket', 'ds', rel));
    const got = await readFile(path.join(dir, 'ds', rel));
    assert.ok(want.equals(got), `${rel} differs in ${dir}`);
  }
}

let n = 0;
const outDir = () => path.join(tmp, `out-${n++}`);

async function withOrigin<T>(opts: Omit<OriginOptions, 'root'>, fn: (o: HttpOrigin) => Promise<T>): Promise<T> {
  const o = await startOrigin({ root: path.join(tmp, 'bucket'), ...opts });
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

async function download(t: Metainfo, opts: Parameters<typeof startDownload>[1], ms = 30_000): Promise<Transfer> {
  const tr = await startDownload(t, opts);
  try {
    await within(tr.torrent.done, ms, 'download');
  } catch (e) {
    await tr.stop();
    throw e;
  }
  return tr;
}

describe('web seeds (BEP 19)', () => {
  it('single-file torrent from a web seed alone: the file URL, and a folder URL (name appended)', async () => {
    await withOrigin({}, async (o) => {
      for (const url of [`${o.url}one.bin`, o.url]) {
        const dir = outDir();
        const tr = await download(single, { dataDir: dir, webSeeds: [url] });
        const s = tr.stats();
        await tr.stop();
        assert.ok((await readFile(path.join(dir, 'one.bin'))).equals(await readFile(path.join(tmp, 'bucket', 'one.bin'))));
        assert.equal(s.bytesFromOrigins, 777_777);
        assert.equal(s.bytesFromPeers, 0);
        assert.equal(s.origins[0]!.url, url);
        assert.equal(s.origins[0]!.failures, 0);
      }
    });
  });

  it('multi-file hybrid with pad files from a web seed alone; pad files are never requested', async () => {
    await withOrigin({}, async (o) => {
      const dir = outDir();
      const tr = await download(multi, { dataDir: dir, webSeeds: [o.url] });
      const s = tr.stats();
      await tr.stop();
      await sameMulti(dir);
      const dataBytes = Object.values(FILES).reduce((a, b) => a + b, 0);
      assert.equal(s.bytesFromOrigins, dataBytes);
      assert.equal(o.stats.bytesSent, dataBytes, 'the origin sent each data byte once and no pad byte');
      for (const p of o.stats.byPath.keys()) assert.ok(!p.includes('.pad'), `requested a pad file: ${p}`);
      assert.equal(s.origins[0]!.failures, 0);
    });
  });

  it('a web seed and a peer together both serve blocks, and the result is bit-exact', async () => {
    const seed = await startSeeding(multi, { dataDir: path.join(tmp, 'bucket'), uploadRate: 512 * 1024 });
    try {
      await withOrigin({ rateBytesPerSec: 512 * 1024 }, async (o) => {
        const dir = outDir();
        const tr = await download(multi, { dataDir: dir, webSeeds: [o.url], peers: [`127.0.0.1:${seed.session.port}`], originPolicy: 'origin-first' });
        const s = tr.stats();
        await tr.stop();
        await sameMulti(dir);
        assert.ok(s.bytesFromOrigins > 0, 'the origin served some blocks');
        assert.ok(s.bytesFromPeers > 0, 'the peer served some blocks');
      });
    } finally {
      await seed.stop();
    }
  });

  it('origin stopped mid-transfer: the rest comes from peers', async () => {
    const seed = await startSeeding(multi, { dataDir: path.join(tmp, 'bucket'), uploadRate: 256 * 1024 });
    try {
      const o = await startOrigin({ root: path.join(tmp, 'bucket'), rateBytesPerSec: 512 * 1024 });
      const dir = outDir();
      const tr = await startDownload(multi, { dataDir: dir, webSeeds: [o.url], peers: [`127.0.0.1:${seed.session.port}`], originPolicy: 'origin-first' });
      try {
        // Stop the origin once it has served something (bounded wait).
        for (let i = 0; i < 200 && tr.stats().bytesFromOrigins === 0; i++) await new Promise((r) => setTimeout(r, 25));
        await o.close();
        await within(tr.torrent.done, 60_000, 'download after the origin stopped');
        const s = tr.stats();
        await sameMulti(dir);
        assert.ok(s.bytesFromOrigins > 0 && s.bytesFromPeers > 0, `origin ${s.bytesFromOrigins}, peers ${s.bytesFromPeers}`);
      } finally {
        await tr.stop();
        await o.close();
      }
    } finally {
      await seed.stop();
    }
  });

  it('an origin that serves corrupt bytes: caught by the hash check, never written, dropped; peers finish the job', async () => {
    const seed = await startSeeding(multi, { dataDir: path.join(tmp, 'bucket'), uploadRate: 256 * 1024 });
    const events = new EventChannel();
    const dropped: string[] = [];
    events.on('origin:dropped', (e) => dropped.push(e.reason));
    try {
      // One wrong byte at the start of every 16 KiB of every file: files of a hybrid torrent start
      // on piece boundaries, so every block the origin serves is wrong.
      const mutate = (_p: string, offset: number, chunk: Buffer) => {
        for (let o = (16384 - (offset % 16384)) % 16384; o < chunk.length; o += 16384) chunk[o] = chunk[o]! ^ 0xff;
        return chunk;
      };
      await withOrigin({ faults: { mutate } }, async (o) => {
        const dir = outDir();
        // A piece is written only after it passed its hash check: none may include an origin block.
        const verifiedFromOrigin: number[] = [];
        events.on('torrent:piece-verified', (e) => {
          if (e.source.includes('web:')) verifiedFromOrigin.push(e.index);
        });
        const tr = await download(multi, { dataDir: dir, webSeeds: [o.url], peers: [`127.0.0.1:${seed.session.port}`], originPolicy: 'origin-first', events });
        const s = tr.stats();
        await tr.stop();
        await sameMulti(dir);
        assert.ok(s.hashFailures >= 2, `hash failures: ${s.hashFailures}`);
        assert.equal(s.origins[0]!.state, 'dropped');
        assert.equal(dropped.length, 1);
        assert.equal(s.bannedPeers, 0, 'the honest peer was not blamed');
        assert.deepEqual(verifiedFromOrigin, [], 'no piece with origin bytes passed');
        assert.ok(s.bytesFromOrigins > 0, 'the origin did send (bad) bytes');
      });
    } finally {
      await seed.stop();
    }
  });

  it('a presigned-style URL keeps its query string (single file and folder URLs)', async () => {
    await withOrigin({ faults: { requireQuery: { sig: 'abc123' } } }, async (o) => {
      const d1 = outDir();
      const t1 = await download(single, { dataDir: d1, webSeeds: [`${o.url}one.bin?sig=abc123&expires=99`] });
      await t1.stop();
      assert.ok((await readFile(path.join(d1, 'one.bin'))).equals(await readFile(path.join(tmp, 'bucket', 'one.bin'))));
      const d2 = outDir();
      const t2 = await download(multi, { dataDir: d2, webSeeds: [`${o.url}?sig=abc123`] });
      await t2.stop();
      await sameMulti(d2);
    });
  });

  it('follows redirects', async () => {
    await mkdir(path.join(tmp, 'bucket', 'moved'), { recursive: true });
    await writeFile(path.join(tmp, 'bucket', 'moved', 'one.bin'), await readFile(path.join(tmp, 'bucket', 'one.bin')));
    await withOrigin({ faults: { redirects: { '/old/one.bin': '/hop/one.bin', '/hop/one.bin': { location: '/moved/one.bin', status: 307 } } } }, async (o) => {
      const dir = outDir();
      const tr = await download(single, { dataDir: dir, webSeeds: [`${o.url}old/one.bin`] });
      const s = tr.stats();
      await tr.stop();
      assert.ok((await readFile(path.join(dir, 'one.bin'))).equals(await readFile(path.join(tmp, 'bucket', 'one.bin'))));
      assert.equal(s.bytesFromOrigins, 777_777);
    });
  });

  it('seed --from-origin: a seed with an empty folder fetches each piece from the origin once, however many peers ask', async () => {
    await withOrigin({}, async (o) => {
      const seedDir = outDir();
      const seed = await startSeeding(multi, { dataDir: seedDir, fromOrigin: true, webSeeds: [o.url] });
      const nodes: Transfer[] = [];
      try {
        const dirs = [outDir(), outDir(), outDir()];
        for (const d of dirs) nodes.push(await startDownload(multi, { dataDir: d, peers: [`127.0.0.1:${seed.session.port}`] }));
        await within(Promise.all(nodes.map((x) => x.torrent.done)), 60_000, 'downloads from a from-origin seed');
        for (const d of dirs) await sameMulti(d);
        const dataBytes = Object.values(FILES).reduce((a, b) => a + b, 0);
        assert.equal(o.stats.bytesSent, dataBytes, 'the origin served every byte exactly once');
        assert.ok(nodes.every((x) => x.stats().bytesFromPeers > 0 && x.stats().bytesFromOrigins === 0));
        // What the seed fetched is kept: it is a complete copy now.
        await sameMulti(seedDir);
      } finally {
        await Promise.all(nodes.map((x) => x.stop()));
        await seed.stop();
      }
    });
  });

  it('balanced policy with a complete seed connected: the origin serves nothing the peer has', async () => {
    const seed = await startSeeding(multi, { dataDir: path.join(tmp, 'bucket') });
    try {
      await withOrigin({}, async (o) => {
        const dir = outDir();
        // Connect to the seed first, so its have-all is known before the origin is considered.
        const tr = await download(multi, { dataDir: dir, webSeeds: [o.url], peers: [`127.0.0.1:${seed.session.port}`], originPolicy: 'balanced' });
        const s = tr.stats();
        await tr.stop();
        await sameMulti(dir);
        assert.ok(s.bytesFromPeers > 0);
        // The origin may have started before the seed's have-all arrived; it never takes more than that.
        assert.ok(s.bytesFromOrigins < s.bytesFromPeers, `origin ${s.bytesFromOrigins} vs peers ${s.bytesFromPeers}`);
      });
    } finally {
      await seed.stop();
    }
  });
});
