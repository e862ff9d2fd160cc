/**
 * The config file and the home folder: settings are validated key by key (one line naming the file
 * and the key), flags win over the file, the DHT's routing table is saved in the home and brings a
 * later run back without any bootstrap node, and two processes never share one node id.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG, claimDhtState, loadConfig, parseConfig, seedbankHome } from '../../src/client/config.js';
import { UsageError } from '../../src/errors.js';
import { type UdpDht, startUdpDht } from '../../src/dht/udp.js';
import { isOneLine, runCli } from '../helpers/cli.js';

let tmp: string;
let peers: UdpDht[] = [];

describe('config file and home', () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-config-'));
    // A small DHT on loopback to join: one node others bootstrap from, and three that know it.
    const first = await startUdpDht({ host: '127.0.0.1', ipv6: false });
    peers = [first];
    for (let i = 0; i < 3; i++) peers.push(await startUdpDht({ host: '127.0.0.1', ipv6: false, bootstrap: [{ host: '127.0.0.1', port: first.port }] }));
  });
  after(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await rm(tmp, { recursive: true, force: true });
  });

  it('parses every setting, and names the file and the key of anything wrong in one line', () => {
    const c = parseConfig(JSON.stringify({ dht: { enabled: false, bootstrap: ['10.0.0.5:6881', 'public'], enforceNodeId: true, saveState: false }, lsd: { interface: 'eth0' } }), 'c.json');
    assert.deepEqual(c, { dht: { enabled: false, bootstrap: ['10.0.0.5:6881', 'public'], enforceNodeId: true, saveState: false }, lsd: { interface: 'eth0' } });
    assert.deepEqual(parseConfig('{}', 'c.json'), DEFAULT_CONFIG);
    const cases: Array<[string, RegExp]> = [
      ['{"dht": {"bootstap": []}}', /c\.json: dht\.bootstap is not a setting/],
      ['{"dht": {"enabled": "yes"}}', /dht\.enabled must be true or false/],
      ['{"dht": {"bootstrap": "1.2.3.4:5"}}', /dht\.bootstrap must be a list/],
      ['{"lsd": {"interface": 7}}', /lsd\.interface must be an interface name/],
      ['{"tracker": {}}', /tracker is not a setting/],
      ['[1]', /the top level must be an object/],
      ['{"dht": ', /is not JSON/],
    ];
    for (const [text, msg] of cases) {
      assert.throws(() => parseConfig(text, 'c.json'), (e: unknown) => e instanceof UsageError && msg.test(e.message) && !e.message.includes('\n'), text);
    }
  });

  it('finds its home from SEEDBANK_HOME, then XDG_CONFIG_HOME, then ~/.config', async () => {
    assert.equal(seedbankHome({ SEEDBANK_HOME: '/srv/sb' }), '/srv/sb');
    assert.equal(seedbankHome({ XDG_CONFIG_HOME: '/x' }), '/x/seedbank');
    assert.equal(seedbankHome({}), path.join(os.homedir(), '.config', 'seedbank'));
    // No config file in a home is the defaults; a --config that does not exist is an error.
    assert.deepEqual(await loadConfig(undefined, { SEEDBANK_HOME: path.join(tmp, 'empty-home') }), DEFAULT_CONFIG);
    await assert.rejects(loadConfig(path.join(tmp, 'nope.json')), UsageError);
  });

  it('one process at a time holds the DHT state; a lock left by a dead process is taken over', async () => {
    const home = path.join(tmp, 'lock-home');
    const a = await claimDhtState(home);
    assert.ok(a, 'the first claim gets the state file');
    assert.equal(await claimDhtState(home), null, 'a second claim while the first holds it gets nothing');
    await a.release();
    await writeFile(path.join(home, 'dht-state.json.lock'), '999999999'); // no such process
    const b = await claimDhtState(home);
    assert.ok(b, 'a stale lock is taken over');
    await b.release();
  });

  it('dht status joins through the config\'s bootstrap node, saves the routing table, and a later run needs no bootstrap', async () => {
    const home = path.join(tmp, 'status-home');
    const cfg = path.join(tmp, 'dht.json');
    await writeFile(cfg, JSON.stringify({ dht: { bootstrap: [`127.0.0.1:${peers[0]!.port}`] } }));
    const env = { SEEDBANK_HOME: home };
    const r = await runCli(['dht', 'status', '--config', cfg, '--lookups', '1', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { v4: { nodes: number; id: string }; lookups: Array<{ responded: number }>; stateFile: string };
    assert.ok(s.v4.nodes >= 3, `routing table: ${s.v4.nodes}`);
    assert.ok(s.lookups.length >= 1 && s.lookups[0]!.responded >= 1);
    assert.equal(s.stateFile, path.join(home, 'dht-state.json'));
    const saved = JSON.parse(await readFile(s.stateFile, 'utf8')) as { id: string; nodes4: unknown[] };
    assert.equal(saved.id, s.v4.id);
    assert.ok(saved.nodes4.length >= 3);
    // Again with no bootstrap at all: the saved nodes are enough, and the id is kept.
    const again = await runCli(['dht', 'status', '--lookups', '0', '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    const s2 = JSON.parse(again.stdout) as { v4: { nodes: number; id: string } };
    assert.equal(s2.v4.id, s.v4.id, 'the node id survives a restart');
    assert.ok(s2.v4.nodes >= 3);
    // Human output names the table and the lookups.
    const human = await runCli(['dht', 'status', '--lookups', '1'], { env });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /routing table: +\d+ nodes in \d+ buckets/);
    assert.match(human.stdout, /lookup IPv4: +\d+ rounds/);
  });

  it('flags win over the file, and every mistake is one line with exit 2', async () => {
    const off = path.join(tmp, 'off.json');
    await writeFile(off, JSON.stringify({ dht: { enabled: false } }));
    const home = { SEEDBANK_HOME: path.join(tmp, 'empty-home-2') };
    const cases: Array<[string[], RegExp]> = [
      [['dht', 'status', '--config', off], /--no-dht/],
      [['dht', 'status'], /give --dht-bootstrap/],
      [['dht', 'status', '--dht-bootstrap', 'nonsense'], /--dht-bootstrap/],
      [['dht', 'status', '--lookups', 'many', '--dht-bootstrap', '127.0.0.1:1'], /--lookups/],
      [['dht', 'status', '--config', path.join(tmp, 'missing.json')], /cannot read config/],
      [['seed', 'x.torrent', tmp, '--config', off, '--name-key', 'k'], /cannot read|--name-key|x\.torrent/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(args, { env: home });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(isOneLine(r.stderr) && msg.test(r.stderr), `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
