import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulateDht } from '../../src/sim/dht.js';

describe('simulated DHT', () => {
  it('lookups find the true 8 closest nodes in a few rounds, items survive 20 % churn, and runs are deterministic', async () => {
    const o = { nodes: 150, lookups: 40, items: 10, churn: 0.2, seed: 5 };
    const r = await simulateDht(o);
    assert.ok(r.exactK >= 0.95, `exact k in ${r.exactK}`);
    assert.ok(r.rounds.median >= 1 && r.rounds.p99 <= 8, JSON.stringify(r.rounds));
    assert.ok(r.messages.median >= 8 && r.messages.p99 <= 60, JSON.stringify(r.messages));
    assert.ok(r.itemsFound >= 9, `${r.itemsFound} of 10 items found after churn`);
    assert.deepEqual(await simulateDht(o), r);
  });

  it('refuses a DHT too small to measure', async () => {
    await assert.rejects(simulateDht({ nodes: 3 }), RangeError);
  });
});
