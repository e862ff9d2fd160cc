/**
 * Tests for the DHT item store (BEP 44 items kept for others) on a fake clock: immutable and
 * mutable puts through checkPut (target, signature, seq and cas rules against the stored item),
 * expiry two hours after the last accepted put, and the item and byte caps under a flood.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { type Ed25519Keys, PUT_ERROR, type PutRequest, type Seq, generateKeys, immutableTarget, mutableTarget, signMutable } from '../../src/codec/bep44.js';
import { ITEM_TTL_MS, ItemStore, ItemStoreError, type ItemStoreOptions, LARGEST_ITEM_BYTES } from '../../src/dht/item-store.js';
import type { RecencyMap } from '../../src/dht/recency-map.js';

const MIN = 60_000;

function fixture(opts: Omit<ItemStoreOptions, 'now'> = {}) {
  const clock = { t: 0 };
  const store = new ItemStore({ now: () => clock.t, ...opts });
  return { clock, store };
}

/** An immutable put of the bencoded string `s`, with its target. */
function immutable(s: string): { target: Buffer; put: PutRequest } {
  const vBencoded = bencode(Buffer.from(s));
  return { target: immutableTarget(vBencoded), put: { vBencoded } };
}

// One key pair for the whole file: generating keys is the slow part of these tests.
const KEYS: Ed25519Keys = generateKeys();
const OTHER_KEYS: Ed25519Keys = generateKeys();
/** Where KEYS' unsalted item lives. */
const KEY_TARGET = mutableTarget(KEYS.publicKey);

/** A signed mutable put of the bencoded string `s` at `seq`. */
function mutable(s: string, seq: Seq, extra: { salt?: Buffer; cas?: Seq; keys?: Ed25519Keys } = {}): { target: Buffer; put: PutRequest } {
  const keys = extra.keys ?? KEYS;
  const vBencoded = bencode(Buffer.from(s));
  const sig = signMutable(keys, { vBencoded, seq, ...(extra.salt === undefined ? {} : { salt: extra.salt }) });
  const put: PutRequest = { vBencoded, k: keys.publicKey, sig, seq };
  if (extra.salt !== undefined) put.salt = extra.salt;
  if (extra.cas !== undefined) put.cas = extra.cas;
  return { target: mutableTarget(keys.publicKey, extra.salt), put };
}

/** Puts and asserts the outcome: true for stored, or the KRPC error code expected. */
function expectPut(store: ItemStore, p: { target: Buffer; put: PutRequest }, expected: true | number): void {
  const r = store.put(p.target, p.put);
  if (expected === true) assert.ok(r.ok, r.ok ? '' : `refused ${r.code}: ${r.message}`);
  else assert.ok(!r.ok && r.code === expected, r.ok ? `stored; expected ${expected}` : `got ${r.code}: ${r.message}`);
  store.checkInvariants();
}

describe('ItemStore: puts through checkPut', () => {
  it('stores an immutable item under its target and gives it back', () => {
    const { store } = fixture();
    const a = immutable('Hello World!');
    expectPut(store, a, true);
    const got = store.get(a.target);
    assert.ok(got);
    assert.deepEqual(got.vBencoded, Buffer.from('12:Hello World!'));
    assert.deepEqual(got.target, a.target);
    assert.equal(got.k, undefined);
    assert.equal(store.get(immutable('other').target), undefined);
    assert.equal(store.size, 1);
  });

  it("refuses a put under a target other than the item's own (203), and stores nothing", () => {
    const { store } = fixture();
    const a = immutable('a');
    expectPut(store, { target: immutable('b').target, put: a.put }, PUT_ERROR.PROTOCOL);
    const m = mutable('x', 1);
    expectPut(store, { target: mutableTarget(KEYS.publicKey, Buffer.from('salt')), put: m.put }, PUT_ERROR.PROTOCOL);
    assert.equal(store.size, 0);
  });

  it('refuses a value over 1000 bytes (205) and a bad signature (206)', () => {
    const { store } = fixture();
    expectPut(store, immutable('x'.repeat(1000)), PUT_ERROR.VALUE_TOO_BIG);
    const m = mutable('x', 1);
    const sig = Buffer.from(m.put.sig!);
    sig[0] = sig[0]! ^ 1;
    expectPut(store, { target: m.target, put: { ...m.put, sig } }, PUT_ERROR.BAD_SIGNATURE);
    assert.equal(store.size, 0);
  });

  it('mutable items follow the seq rules against what is stored (302), with salts kept apart', () => {
    const { store } = fixture();
    expectPut(store, mutable('one', 1), true);
    expectPut(store, mutable('zero', 0), PUT_ERROR.SEQ_TOO_LOW);
    expectPut(store, mutable('another one', 1), PUT_ERROR.SEQ_TOO_LOW);
    expectPut(store, mutable('one', 1), true); // the same value at the same seq: a refresh
    expectPut(store, mutable('two', 2), true);
    const salted = mutable('salted', 0, { salt: Buffer.from('s') });
    expectPut(store, salted, true); // another target: seq 0 is fine there
    assert.deepEqual(store.get(KEY_TARGET)?.vBencoded, Buffer.from('3:two'));
    assert.equal(store.get(KEY_TARGET)?.seq, 2);
    assert.deepEqual(store.get(salted.target)?.salt, Buffer.from('s'));
    assert.equal(store.size, 2);
  });

  it('compare-and-swap: a cas that is not the stored seq is 301, the right one is accepted', () => {
    const { store } = fixture();
    expectPut(store, mutable('first', 5, { cas: 99 }), true); // nothing stored: nothing to compare
    expectPut(store, mutable('second', 6, { cas: 4 }), PUT_ERROR.CAS_MISMATCH);
    expectPut(store, mutable('second', 6, { cas: 5 }), true);
    assert.equal(store.get(KEY_TARGET)?.seq, 6);
  });

  it('a writer with other keys never touches the item of another key', () => {
    const { store } = fixture();
    expectPut(store, mutable('mine', 3), true);
    expectPut(store, mutable('theirs', 100, { keys: OTHER_KEYS }), true);
    assert.deepEqual(store.get(KEY_TARGET)?.vBencoded, Buffer.from('4:mine'));
    assert.equal(store.size, 2);
  });

  it('get hands out a copy: changing its fields does not change the store', () => {
    const { store } = fixture();
    const a = mutable('v', 1);
    expectPut(store, a, true);
    const got = store.get(a.target)!;
    got.seq = 99;
    delete got.sig;
    assert.equal(store.get(a.target)?.seq, 1);
    assert.ok(store.get(a.target)?.sig);
    store.checkInvariants();
  });

  it('throws RangeError for a target that is not 20 bytes', () => {
    const { store } = fixture();
    assert.throws(() => store.get(new Uint8Array(19)), RangeError);
    assert.throws(() => store.put(new Uint8Array(21), immutable('a').put), RangeError);
  });
});

describe('ItemStore: expiry', () => {
  it('forgets an item two hours after its last accepted put; a republish extends it', () => {
    const { clock, store } = fixture();
    const a = immutable('a');
    const b = immutable('b');
    expectPut(store, a, true);
    expectPut(store, b, true);
    clock.t = 60 * MIN;
    expectPut(store, b, true); // republished
    clock.t = ITEM_TTL_MS - 1;
    assert.ok(store.get(a.target));
    clock.t = ITEM_TTL_MS;
    assert.equal(store.get(a.target), undefined);
    assert.ok(store.get(b.target));
    clock.t = 60 * MIN + ITEM_TTL_MS;
    assert.equal(store.get(b.target), undefined);
    assert.equal(store.size, 0);
    assert.equal(store.bytes, 0);
  });

  it('a refused put does not extend the item', () => {
    const { clock, store } = fixture();
    expectPut(store, mutable('two', 2), true);
    clock.t = 90 * MIN;
    expectPut(store, mutable('one', 1), PUT_ERROR.SEQ_TOO_LOW);
    clock.t = ITEM_TTL_MS;
    assert.equal(store.get(KEY_TARGET), undefined);
  });

  it('an expired mutable item no longer constrains seq: a lower seq is accepted afresh', () => {
    const { clock, store } = fixture();
    expectPut(store, mutable('ten', 10), true);
    clock.t = ITEM_TTL_MS;
    expectPut(store, mutable('one', 1), true);
    assert.equal(store.get(KEY_TARGET)?.seq, 1);
  });

  it('sweep removes every expired item and says how many', () => {
    const { clock, store } = fixture();
    for (let i = 0; i < 8; i++) expectPut(store, immutable(`old ${i}`), true);
    clock.t = 30 * MIN;
    for (let i = 0; i < 3; i++) expectPut(store, immutable(`new ${i}`), true);
    clock.t = ITEM_TTL_MS;
    assert.equal(store.sweep(), 8);
    assert.equal(store.sweep(), 0);
    assert.equal(store.size, 3);
    store.checkInvariants();
  });
});

describe('ItemStore: caps', () => {
  it('never holds more than maxItems; the items put least recently go first', () => {
    const { clock, store } = fixture({ maxItems: 5 });
    for (let i = 0; i < 9; i++) {
      clock.t = i;
      expectPut(store, immutable(`item ${i}`), true);
      if (i === 4) expectPut(store, immutable('item 0'), true); // republished: now the newest
      assert.ok(store.size <= 5);
    }
    const kept = Array.from({ length: 9 }, (_, i) => i).filter((i) => store.get(immutable(`item ${i}`).target) !== undefined);
    assert.deepEqual(kept, [0, 5, 6, 7, 8], 'item 0 outlived 1-4 because it was republished');
    assert.equal(store.evicted, 4);
  });

  it('never holds more than maxBytes, counting value, key, signature, salt and target', () => {
    const { store } = fixture({ maxBytes: LARGEST_ITEM_BYTES * 3 });
    const big = (i: number) => immutable(`${i} `.padEnd(990, 'x'));
    for (let i = 0; i < 20; i++) {
      expectPut(store, big(i), true);
      assert.ok(store.bytes <= LARGEST_ITEM_BYTES * 3);
    }
    const one = 20 + 994; // target + "990:" + 990 bytes
    assert.equal(store.bytes, store.size * one);
    assert.equal(store.size, Math.floor((LARGEST_ITEM_BYTES * 3) / one));
  });

  it('counts a mutable item as target + value + key + salt + signature', () => {
    const { store } = fixture();
    expectPut(store, mutable('m', 1, { salt: Buffer.from('salt') }), true);
    assert.equal(store.bytes, 20 + 3 + 32 + 4 + 64);
  });

  it('with default caps, a flood of puts stays within them', () => {
    const { store } = fixture();
    const flood = (s: string) => {
      const p = immutable(s);
      assert.ok(store.put(p.target, p.put).ok);
    };
    for (let i = 0; i < 12_000; i++) flood(`flood ${i}`);
    assert.equal(store.size, 10_000);
    for (let i = 0; i < 5_000; i++) flood(`${i} `.padEnd(990, 'y'));
    assert.ok(store.bytes <= 4 * 1024 * 1024);
    assert.ok(store.size <= 10_000);
    store.checkInvariants();
  });

  it('refuses caps that could not hold the largest item', () => {
    assert.throws(() => fixture({ maxBytes: LARGEST_ITEM_BYTES - 1 }), RangeError);
    assert.throws(() => fixture({ maxItems: 0 }), RangeError);
    assert.throws(() => fixture({ ttlMs: -1 }), RangeError);
    assert.doesNotThrow(() => fixture({ maxBytes: LARGEST_ITEM_BYTES, maxItems: 1 }));
  });
});

describe('ItemStore: invariants', () => {
  /** The store's private fields, reached around TypeScript to break them on purpose. */
  type Internals = { items: RecencyMap<{ hex: string; bytes: number; item: { target: Buffer } }>; totalBytes: number };

  it('checkInvariants throws ItemStoreError on a wrong byte count or an item under another target', () => {
    const fresh = () => {
      const { store } = fixture();
      expectPut(store, immutable('a'), true);
      expectPut(store, immutable('b'), true);
      return { store, inner: store as unknown as Internals };
    };
    let f = fresh();
    f.inner.totalBytes += 1;
    assert.throws(() => f.store.checkInvariants(), (e: unknown) => e instanceof ItemStoreError && e.code === 'ITEM_STORE_INVARIANT' && /bytes/.test(e.message));
    f = fresh();
    const first = f.inner.items.oldest()!;
    f.inner.items.touch(first.hex, { ...first, item: { ...first.item, target: immutable('c').target } });
    assert.throws(() => f.store.checkInvariants(), ItemStoreError);
  });
});
