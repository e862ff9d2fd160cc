/**
 * Our tracker client against opentracker (Debian package `opentracker`), the reference C tracker,
 * over HTTP and UDP on 127.0.0.1: announces see each other, stopped removes, scrape counts, and a
 * hash outside the whitelist is refused with its failure reason.
 *
 * Debian builds opentracker in whitelist mode (see /work/shared/INTEROP-NOTES.md): it gets `-w` with
 * an absolute, world-readable file, since it drops to `nobody` and changes directory to `/`. It is
 * never given `-u root`. Without the binary the suite is skipped, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TrackerError } from '../../src/codec/tracker.js';
import { TrackerClient } from '../../src/discovery/tracker-client.js';
import { LOOPBACK, hash20, params } from './helpers.js';

const BINARY = ['/usr/bin/opentracker', '/usr/sbin/opentracker', '/usr/local/bin/opentracker'].find((p) => existsSync(p));
const MISSING = 'opentracker is not installed: apt-get install opentracker (or run .ci/run)';

/** A port free for both TCP and UDP on loopback right now. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, LOOPBACK, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, LOOPBACK, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

if (!BINARY && process.env['CI']) {
  it('opentracker interop', () => assert.fail(`${MISSING} (required when CI is set)`));
}

describe('client against opentracker', { skip: BINARY ? false : MISSING }, () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let httpUrl: string;
  let udpUrl: string;
  const client = new TrackerClient({ baseTimeoutMs: 250, bindAddress: LOOPBACK });
  const allowed = ['http-swarm', 'udp-swarm', 'http-stop', 'udp-stop', 'scrape'].map((n) => [n, hash20(`ot-${n}`)] as const);
  const ih = Object.fromEntries(allowed) as Record<string, Buffer>;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'seedbank-opentracker-'));
    // opentracker runs as nobody: the folder and the list must be readable by everyone.
    await chmod(dir, 0o755);
    const whitelist = path.join(dir, 'whitelist.txt');
    await writeFile(whitelist, allowed.map(([, h]) => `${h.toString('hex')}\n`).join(''));
    await chmod(whitelist, 0o644);
    const port = await freePort();
    httpUrl = `http://${LOOPBACK}:${port}/announce`;
    udpUrl = `udp://${LOOPBACK}:${port}/announce`;
    child = spawn(BINARY!, ['-i', LOOPBACK, '-p', String(port), '-P', String(port), '-w', whitelist], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    // Ready when it answers a UDP connect and an HTTP scrape; at most ~5 s.
    const probe = hash20('ot-probe');
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) assert.fail(`opentracker exited with ${child.exitCode}: ${stderr}`);
      try {
        await client.scrape(udpUrl, [probe], { timeoutMs: 200 });
        await client.scrape(httpUrl, [probe], { timeoutMs: 200 });
        break;
      } catch (e) {
        if (i >= 25) throw new Error(`opentracker did not answer on port ${port}; stderr: ${stderr}`, { cause: e });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });

  after(async () => {
    await client.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const endpoints = (ps: Array<{ host: string; port: number }>) => ps.map((p) => `${p.host}:${p.port}`);

  for (const transport of ['http', 'udp'] as const) {
    const url = () => (transport === 'http' ? httpUrl : udpUrl);

    it(`${transport}: two leechers see each other, with sane counts and interval`, async () => {
      const h = ih[`${transport}-swarm`]!;
      await client.announce(url(), params(h, 'a', 6001, { event: 'started' }));
      const b = await client.announce(url(), params(h, 'b', 6002, { event: 'started' }));
      assert.ok(endpoints(b.peers).includes(`${LOOPBACK}:6001`), JSON.stringify(b.peers));
      assert.equal(b.incomplete, 2);
      assert.equal(b.complete, 0);
      assert.ok(b.interval > 0);
      const a = await client.announce(url(), params(h, 'a', 6001));
      assert.ok(endpoints(a.peers).includes(`${LOOPBACK}:6002`), JSON.stringify(a.peers));
    });

    it(`${transport}: stopped removes the peer`, async () => {
      const h = ih[`${transport}-stop`]!;
      await client.announce(url(), params(h, 'a', 6001, { event: 'started' }));
      await client.announce(url(), params(h, 'b', 6002, { event: 'started' }));
      await client.announce(url(), params(h, 'b', 6002, { event: 'stopped' }));
      const a = await client.announce(url(), params(h, 'a', 6001));
      assert.ok(!endpoints(a.peers).includes(`${LOOPBACK}:6002`), JSON.stringify(a.peers));
      assert.equal(a.incomplete, 1);
    });

    it(`${transport}: a hash outside the whitelist is refused`, async () => {
      // Over HTTP with a failure reason; over UDP opentracker sends an empty (8-byte) announce reply.
      const reason = transport === 'http' ? /not authorized/i : /without a reason/;
      await assert.rejects(
        client.announce(url(), params(hash20('ot-not-listed'), 'a', 6001, { event: 'started' }), { timeoutMs: 2000 }),
        (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_FAILURE' && reason.test(e.failureReason ?? ''),
      );
    });
  }

  it('scrape over HTTP and UDP counts seeders, leechers and completed downloads', async () => {
    const h = ih['scrape']!;
    await client.announce(httpUrl, params(h, 'a', 6001, { event: 'started' }));
    await client.announce(udpUrl, params(h, 'b', 6002, { event: 'started' }));
    await client.announce(httpUrl, params(h, 'a', 6001, { event: 'completed', left: 0 }));
    const viaHttp = await client.scrape(httpUrl, [h]);
    const viaUdp = await client.scrape(udpUrl, [h]);
    const expected = { complete: 1, incomplete: 1, downloaded: 1 };
    assert.deepEqual(viaHttp.get(h.toString('hex')), expected);
    assert.deepEqual(viaUdp.get(h.toString('hex')), expected);
  });
});
