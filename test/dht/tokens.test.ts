/**
 * Unit and property tests for DHT write tokens (BEP 5) on a fake clock: binding to the IP (every
 * way of writing one address, never the port), the one-to-two-period validity window, lazy
 * rotation after a long idle spell, and refusal of forged or malformed tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_ROTATE_MS, SECRET_LENGTH, TOKEN_LENGTH, TokenSecrets } from '../../src/dht/tokens.js';

const MIN = 60_000;

/** A fake clock and a byte source that counts how often it is asked, each secret different. */
function fixture(opts: { start?: number; seed?: number; rotateMs?: number } = {}) {
  const clock = { t: opts.start ?? 0 };
  let draws = 0;
  const randomBytes = (n: number) => {
    draws++;
    return Buffer.alloc(n, ((opts.seed ?? 0) * 31 + draws) & 0xff);
  };
  const secrets = new TokenSecrets({ now: () => clock.t, randomBytes, ...(opts.rotateMs === undefined ? {} : { rotateMs: opts.rotateMs }) });
  return { clock, secrets, draws: () => draws };
}

describe('TokenSecrets: binding', () => {
  it('gives an 8-byte token that is valid for its host and no other', () => {
    const { secrets } = fixture();
    const tok = secrets.token('192.0.2.7');
    assert.equal(tok.length, TOKEN_LENGTH);
    assert.ok(secrets.valid('192.0.2.7', tok));
    assert.ok(!secrets.valid('192.0.2.8', tok));
    assert.ok(!secrets.valid('2001:db8::7', tok));
    assert.notDeepEqual(secrets.token('192.0.2.8'), tok);
  });

  it('binds the address, not how it is written: IPv4-mapped IPv6 is IPv4, IPv6 text forms agree', () => {
    const { secrets } = fixture();
    const v4 = secrets.token('198.51.100.1');
    for (const same of ['::ffff:198.51.100.1', '::FFFF:198.51.100.1', '0:0:0:0:0:ffff:198.51.100.1']) {
      assert.ok(secrets.valid(same, v4), same);
      assert.deepEqual(secrets.token(same), v4, same);
    }
    const v6 = secrets.token('2001:db8::1');
    assert.ok(secrets.valid('2001:0DB8:0:0:0:0:0:1', v6));
    assert.ok(!secrets.valid('2001:db8::2', v6));
  });

  it('binds names (simulated hosts) as text, apart from any address', () => {
    const { secrets } = fixture();
    const tok = secrets.token('node-a');
    assert.ok(secrets.valid('node-a', tok));
    assert.ok(!secrets.valid('node-b', tok));
    // "abcd" is the bytes of 97.98.99.100; the family tag keeps the two apart.
    assert.notDeepEqual(secrets.token('abcd'), secrets.token('97.98.99.100'));
  });

  it('refuses tokens of the wrong length and forged ones', () => {
    const { secrets } = fixture();
    const tok = secrets.token('192.0.2.7');
    assert.ok(!secrets.valid('192.0.2.7', tok.subarray(0, TOKEN_LENGTH - 1)));
    assert.ok(!secrets.valid('192.0.2.7', Buffer.concat([tok, Buffer.from([0])])));
    assert.ok(!secrets.valid('192.0.2.7', new Uint8Array(0)));
    for (let i = 0; i < TOKEN_LENGTH; i++) {
      const forged = Buffer.from(tok);
      forged[i] = forged[i]! ^ 1;
      assert.ok(!secrets.valid('192.0.2.7', forged), `byte ${i} flipped`);
    }
  });

  it('tokens depend on the secret: two nodes give one host different tokens', () => {
    const a = fixture({ seed: 1 }).secrets;
    const b = fixture({ seed: 2 }).secrets;
    const tok = a.token('192.0.2.7');
    assert.notDeepEqual(b.token('192.0.2.7'), tok);
    assert.ok(!b.valid('192.0.2.7', tok));
  });
});

describe('TokenSecrets: rotation', () => {
  it('a token issued at the start of a period lives until the end of the next one (5 to 10 min)', () => {
    const { clock, secrets } = fixture();
    const tok = secrets.token('192.0.2.7');
    clock.t = 5 * MIN - 1;
    assert.ok(secrets.valid('192.0.2.7', tok));
    clock.t = 5 * MIN;
    assert.ok(secrets.valid('192.0.2.7', tok), 'the previous secret still counts');
    assert.notDeepEqual(secrets.token('192.0.2.7'), tok, 'new tokens come from the new secret');
    clock.t = 10 * MIN - 1;
    assert.ok(secrets.valid('192.0.2.7', tok));
    clock.t = 10 * MIN;
    assert.ok(!secrets.valid('192.0.2.7', tok), 'two rotations later it is gone');
  });

  it('a token issued just before a rotation still lives a full period', () => {
    const { clock, secrets } = fixture();
    clock.t = 5 * MIN - 1;
    const tok = secrets.token('192.0.2.7');
    clock.t = 10 * MIN - 1;
    assert.ok(secrets.valid('192.0.2.7', tok));
    clock.t = 10 * MIN;
    assert.ok(!secrets.valid('192.0.2.7', tok));
  });

  it('rotates lazily: after an hour idle one call draws one secret, and no old token is honoured', () => {
    const { clock, secrets, draws } = fixture();
    const tok = secrets.token('192.0.2.7');
    assert.equal(draws(), 1);
    clock.t = 60 * MIN + 1;
    assert.equal(draws(), 1, 'nothing happens without a call');
    assert.ok(!secrets.valid('192.0.2.7', tok));
    assert.equal(draws(), 2, 'twelve periods passed, one new secret');
    const fresh = secrets.token('192.0.2.7');
    clock.t = 65 * MIN - 1;
    assert.ok(secrets.valid('192.0.2.7', fresh), 'rotation stays on the grid set at construction');
    clock.t = 70 * MIN;
    assert.ok(!secrets.valid('192.0.2.7', fresh));
  });

  it('skipping exactly one period keeps the previous secret; skipping two drops it', () => {
    const one = fixture();
    const a = one.secrets.token('192.0.2.7');
    one.clock.t = 9 * MIN;
    assert.ok(one.secrets.valid('192.0.2.7', a));
    const two = fixture();
    const b = two.secrets.token('192.0.2.7');
    two.clock.t = 10 * MIN;
    assert.ok(!two.secrets.valid('192.0.2.7', b));
  });

  it('property: valid for at least one period after issue, never two or more', () => {
    const P = DEFAULT_ROTATE_MS;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 * P }), fc.integer({ min: 0, max: 3 * P }), fc.integer({ min: 0, max: 1e6 }), (issueAt, delta, start) => {
        const { clock, secrets } = fixture({ start });
        clock.t = start + issueAt;
        const tok = secrets.token('203.0.113.9');
        clock.t += delta;
        const ok = secrets.valid('203.0.113.9', tok);
        // Periods are counted from construction: the token is good in its own period and the next.
        const periods = Math.floor((issueAt + delta) / P) - Math.floor(issueAt / P);
        assert.equal(ok, periods <= 1);
        if (delta < P) assert.ok(ok);
        if (delta >= 2 * P) assert.ok(!ok);
      }),
      { numRuns: 200 },
    );
  });

  it('honours a custom period', () => {
    const { clock, secrets } = fixture({ rotateMs: 1_000 });
    const tok = secrets.token('192.0.2.7');
    clock.t = 1_999;
    assert.ok(secrets.valid('192.0.2.7', tok));
    clock.t = 2_000;
    assert.ok(!secrets.valid('192.0.2.7', tok));
  });

  it('refuses a bad period and a byte source that gives the wrong length', () => {
    for (const rotateMs of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => new TokenSecrets({ now: () => 0, randomBytes: (n) => Buffer.alloc(n), rotateMs }), RangeError);
    }
    assert.throws(() => new TokenSecrets({ now: () => 0, randomBytes: () => Buffer.alloc(SECRET_LENGTH - 1) }), RangeError);
  });
});
