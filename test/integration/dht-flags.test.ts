import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDhtBootstrap, PUBLIC_DHT_ROUTERS } from '../../src/client/dht-discovery.js';
import { isOneLine, runCli } from '../helpers/cli.js';

describe('--dht-bootstrap', () => {
  it('parses HOST:PORT, [IPv6]:PORT and public (the well-known routers, only when asked)', () => {
    assert.deepEqual(parseDhtBootstrap(['127.0.0.1:6881', '[::1]:7000']), [
      { host: '127.0.0.1', port: 6881 },
      { host: '::1', port: 7000 },
    ]);
    assert.equal(parseDhtBootstrap(['public']).length, PUBLIC_DHT_ROUTERS.length);
    assert.deepEqual(parseDhtBootstrap([]), []);
  });

  it('a bad address is one line and exit 2, before anything is started', async () => {
    for (const bad of ['nonsense', '127.0.0.1:0', '127.0.0.1:70000', '[::1]']) {
      const r = await runCli(['get', 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567', '-o', '/tmp/sb-never', '--dht-bootstrap', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.ok(isOneLine(r.stderr) && r.stderr.includes('--dht-bootstrap'), r.stderr);
    }
  });

  it('name publish and name resolution refuse to run without a key or a DHT, in one line', async () => {
    const cases = [
      ['name', 'publish', 'x.torrent', '--dht-bootstrap', '127.0.0.1:6881'],
      ['name', 'publish', 'x.torrent', '--key', 'k.key'],
      ['get', `magnet:?xs=urn:btpk:${'ab'.repeat(32)}&s=00`, '-o', '/tmp/sb-never'],
      ['get', `magnet:?xs=urn:btpk:${'ab'.repeat(31)}`, '-o', '/tmp/sb-never', '--dht-bootstrap', '127.0.0.1:6881'],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(isOneLine(r.stderr), r.stderr);
    }
  });
});
