/**
 * `seed --name-key`: a seed that holds a name's key publishes its torrent under the name when the
 * DHT has no version (and keeps it stored, test/dht/name-keeper.test.ts); another process resolves
 * the name and downloads the dataset bit-exact. All on a DHT of seedbank nodes on loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNameValue } from '../../src/codec/bep44.js';
import { parseNameMagnet } from '../../src/codec/name-magnet.js';
import { type UdpDht, startUdpDht } from '../../src/dht/udp.js';
import { CLI, runCli } from '../helpers/cli.js';
import { background } from '../helpers/procs.js';

let tmp: string;
let dhts: UdpDht[] = [];

describe('seed --name-key', () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-seed-name-'));
    const first = await startUdpDht({ host: '127.0.0.1', ipv6: false });
    dhts = [first];
    for (let i = 0; i < 4; i++) dhts.push(await startUdpDht({ host: '127.0.0.1', ipv6: false, bootstrap: [{ host: '127.0.0.1', port: first.port }] }));
  });
  after(async () => {
    await Promise.all(dhts.map((d) => d.close()));
    await rm(tmp, { recursive: true, force: true });
  });

  it('publishes the torrent under an empty name, which another process resolves and downloads', { timeout: 120_000 }, async () => {
    const boot = ['--dht-bootstrap', `127.0.0.1:${dhts[0]!.port}`];
    await mkdir(path.join(tmp, 'src', 'weights'), { recursive: true });
    const bytes = randomBytes(70_000);
    await writeFile(path.join(tmp, 'src', 'weights', 'w.bin'), bytes);
    const torrent = path.join(tmp, 'w.torrent');
    const c = await runCli(['create', path.join(tmp, 'src', 'weights'), '-o', torrent, '--json']);
    assert.equal(c.code, 0, c.stderr);
    const v1 = (JSON.parse(c.stdout) as { infoHashV1: string }).infoHashV1;
    const key = path.join(tmp, 'k.key');
    assert.equal((await runCli(['keygen', '-o', key])).code, 0);
    const seed = background(process.execPath, [CLI, 'seed', torrent, path.join(tmp, 'src'), ...boot, '--name-key', key, '--name-salt', 'bert', '--json']);
    try {
      const hello = (await seed.waitFor((l) => l['event'] === 'seeding', 30_000)) as { datasetName: string };
      const name = parseNameMagnet(hello.datasetName);
      assert.equal(name.salt.toString(), 'bert');
      let found = null;
      for (let i = 0; i < 30 && !found; i++) {
        found = await dhts[3]!.getMutable(name.publicKey, name.salt);
        if (!found) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(found, 'the seed stored the name');
      assert.equal(found.seq, 1);
      assert.equal(decodeNameValue(found.vBencoded).ih.toString('hex'), v1);
      const out = path.join(tmp, 'got');
      // A home of its own (the seed holds the test home's DHT state): the get saves its routing table there.
      const env = { SEEDBANK_HOME: path.join(tmp, 'getter-home') };
      const got = await runCli(['get', hello.datasetName, '-o', out, ...boot, '--json'], { timeoutMs: 90_000, env });
      assert.equal(got.code, 0, got.stderr);
      assert.ok((await readFile(path.join(out, 'weights', 'w.bin'))).equals(bytes), 'bit-exact');
      // Later, with no bootstrap node at all: the saved routing table finds the name and the seed.
      const again = await runCli(['get', hello.datasetName, '-o', `${out}-again`, '--json'], { timeoutMs: 90_000, env });
      assert.equal(again.code, 0, again.stderr);
      assert.ok((await readFile(path.join(`${out}-again`, 'weights', 'w.bin'))).equals(bytes), 'bit-exact from the saved table');
      await seed.stop();
      const stopped = seed.lines.find((l) => l['event'] === 'stopped') as { nameKeeper: { stored: number; seq: number; pointsHere: boolean } };
      assert.ok(stopped.nameKeeper.stored >= 1 && stopped.nameKeeper.seq === 1 && stopped.nameKeeper.pointsHere, JSON.stringify(stopped.nameKeeper));
    } finally {
      await seed.stop();
    }
  });
});
