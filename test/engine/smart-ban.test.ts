import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BLOCK, SmartBan } from '../../src/engine/smart-ban.js';

describe('smart ban', () => {
  it('names exactly the senders of the blocks that differ from the verified copy', () => {
    const good = randomBytes(4 * BLOCK + 100); // 5 blocks, the last one short
    const bad = Buffer.from(good);
    bad[2 * BLOCK + 7]! ^= 0xff; // block 2, from "mallory"
    bad[4 * BLOCK + 99]! ^= 0x01; // block 4 (short), from "eve"
    const sb = new SmartBan();
    sb.failed(9, bad, ['alice', 'bob', 'mallory', 'alice', 'eve']);
    assert.equal(sb.size, 1);
    const v = sb.passed(9, good)!;
    assert.deepEqual(v.guilty.sort(), ['eve', 'mallory']);
    assert.deepEqual(v.cleared.sort(), ['alice', 'bob']);
    assert.equal(sb.size, 0, 'forgotten once judged');
    assert.equal(sb.passed(9, good), null);
  });

  it('keeps nothing for a piece with a single sender (that sender is banned at once), and is bounded', () => {
    const sb = new SmartBan(2);
    sb.failed(1, randomBytes(BLOCK), ['solo']);
    assert.equal(sb.size, 0);
    for (let i = 0; i < 5; i++) sb.failed(i, randomBytes(2 * BLOCK), ['a', 'b']);
    assert.equal(sb.size, 2);
  });

  it('a sender whose copy was bad only where another peer also sent is still judged per block', () => {
    const good = randomBytes(2 * BLOCK);
    const sb = new SmartBan();
    sb.failed(0, good, ['a', 'b']); // identical: the failure was elsewhere (e.g. the other half)
    assert.deepEqual(sb.passed(0, good), { guilty: [], cleared: ['a', 'b'] });
  });
});
