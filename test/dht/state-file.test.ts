/**
 * The DHT state file's format: round trip, malformed entries skipped one by one, bounded, and
 * anything that is not the format read as "no state" with a warning.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { idToHex } from '../../src/codec/dht-id.js';
import { DhtStateError, MAX_SAVED_NODES, formatDhtState, parseDhtState, readDhtState } from '../../src/dht/state-file.js';

const id20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const port = fc.integer({ min: 1, max: 65535 });
const node4 = fc.record({ id: id20, host: fc.ipV4(), port });
const node6 = fc.record({ id: id20, host: fc.constantFrom('::1', 'fd00::7', '2001:db8::1:2'), port });

describe('DHT state format', () => {
  it('round-trips ids and nodes of both families (property)', () => {
    fc.assert(
      fc.property(fc.option(id20, { nil: null }), fc.option(id20, { nil: null }), fc.array(node4, { maxLength: 10 }), fc.array(node6, { maxLength: 10 }), (id, id6, nodes4, nodes6) => {
        const back = parseDhtState(formatDhtState({ id, id6, nodes4, nodes6 }));
        const hex = (x: Uint8Array | null) => (x === null ? null : idToHex(x));
        assert.equal(hex(back.id), hex(id));
        // id6 is written only when it differs from id (readers fall back to id).
        assert.equal(hex(back.id6), id6 === null || hex(id6) === hex(id) ? null : hex(id6));
        const flat = (ns: readonly { id: Uint8Array; host: string; port: number }[]) => ns.map((n) => [idToHex(n.id), n.host, n.port]);
        assert.deepEqual(flat(back.nodes4), flat(nodes4));
        assert.deepEqual(flat(back.nodes6), flat(nodes6));
      }),
      { numRuns: 100 },
    );
  });

  it('skips malformed nodes one by one, and nodes of the wrong family', () => {
    const good = { id: 'ab'.repeat(20), host: '192.0.2.1', port: 6881 };
    const s = parseDhtState(
      JSON.stringify({
        version: 1,
        id: 'zz',
        nodes4: [good, { ...good, id: 'ab' }, { ...good, host: 'example.org' }, { ...good, port: 0 }, { ...good, port: '1' }, { ...good, host: '::1' }, null, 7],
        nodes6: [{ ...good, host: '::1' }, good],
      }),
    );
    assert.equal(s.id, null, 'a malformed id: draw a new one');
    assert.deepEqual(s.nodes4.map((n) => n.host), ['192.0.2.1']);
    assert.deepEqual(s.nodes6.map((n) => n.host), ['::1']);
  });

  it('reads at most MAX_SAVED_NODES per family', () => {
    const nodes4 = Array.from({ length: MAX_SAVED_NODES + 5 }, (_, i) => ({ id: i.toString(16).padStart(40, '0'), host: '192.0.2.1', port: 1 + (i % 60000) }));
    assert.equal(parseDhtState(JSON.stringify({ version: 1, nodes4 })).nodes4.length, MAX_SAVED_NODES);
  });

  it('throws DhtStateError for what is not the format', () => {
    for (const text of ['', 'nope', '[]', '{"version": 2}', 'null', '{"nodes4": []}']) assert.throws(() => parseDhtState(text), DhtStateError, text);
  });

  it('readDhtState: a missing file is silently no state; an invalid one warns', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'seedbank-dht-state-'));
    try {
      const warnings: string[] = [];
      assert.equal(await readDhtState(path.join(dir, 'none.json'), (m) => warnings.push(m)), null);
      assert.equal(warnings.length, 0, 'a missing file is no news');
      await writeFile(path.join(dir, 'bad.json'), '{"version": 9}');
      assert.equal(await readDhtState(path.join(dir, 'bad.json'), (m) => warnings.push(m)), null);
      assert.equal(warnings.length, 1);
      assert.equal(await readDhtState(dir, (m) => warnings.push(m)), null, 'a folder is unreadable, not fatal');
      assert.equal(warnings.length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
