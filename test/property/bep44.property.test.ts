/**
 * Property tests for BEP 44 items and BEP 46 values: the signed buffer is the bencoded {salt, seq,
 * v} dictionary without its d/e, signatures round-trip and break under any change, checkPut's seq
 * rule holds for every pair of seqs, and the key-file and name-value decoders round-trip and throw
 * only Bep44Error on arbitrary input.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BEncodable, bdecode, bencode } from '../../src/codec/bencode.js';
import {
  Bep44Error,
  MAX_SALT,
  MAX_SEQ,
  PUT_ERROR,
  type Seq,
  checkPut,
  decodeKeyFile,
  decodeNameValue,
  encodeKeyFile,
  encodeNameValue,
  mutableTarget,
  publicKeyFromSeed,
  signMutable,
  signatureBuffer,
  verifyMutable,
} from '../../src/codec/bep44.js';

/** fc.record of ordinary objects (fast-check 4 makes null-prototype ones, which deepEqual tells apart). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
const salt = fc.uint8Array({ maxLength: MAX_SALT });
const seq: fc.Arbitrary<Seq> = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat(), fc.bigInt({ min: 0n, max: MAX_SEQ }));
const key = fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1'));
/** Small bencodable values; bencoded they stay well under 1000 bytes. */
const { value } = fc.letrec<{ value: BEncodable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.uint8Array({ maxLength: 40 }),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((es) => new Map(es)),
  ),
}));
const vBencoded = value.map((v) => bencode(v)).filter((b) => b.length <= 1000);
const item = rec({ salt, seq, vBencoded });

/** The same bytes with one bit flipped at a position chosen by `at`. */
function flip(b: Uint8Array, at: number, bit: number): Buffer {
  const out = Buffer.from(b);
  out[at % out.length]! ^= 1 << bit;
  return out;
}

describe('signatureBuffer', () => {
  it('is bencode({salt, seq, v}) without the outer d and e (salt only when non-empty)', () => {
    fc.assert(
      fc.property(item, ({ salt, seq, vBencoded }) => {
        const dict = bencode(
          new Map<string, BEncodable | undefined>([
            ['salt', salt.length > 0 ? salt : undefined],
            ['seq', seq],
            ['v', bdecode(vBencoded)],
          ]),
        );
        assert.deepEqual(signatureBuffer({ salt, seq, vBencoded }), dict.subarray(1, dict.length - 1));
      }),
      { numRuns: 200 },
    );
  });

  it('mutableTarget is SHA-1(k + salt)', () => {
    fc.assert(
      fc.property(seed, salt, (k, s) => {
        assert.deepEqual(mutableTarget(k, s), createHash('sha1').update(k).update(s).digest());
      }),
      { numRuns: 100 },
    );
  });
});

describe('signing', () => {
  it('signMutable then verifyMutable is true for any seed, salt, seq and value', () => {
    fc.assert(
      fc.property(seed, item, (s, it) => {
        const keys = { seed: Buffer.from(s), publicKey: publicKeyFromSeed(s) };
        const sig = signMutable(keys, it);
        assert.ok(verifyMutable({ ...it, k: keys.publicKey, sig }));
      }),
      { numRuns: 100 },
    );
  });

  it('any change to value, seq, salt, signature or key makes verification fail', () => {
    const change = fc.oneof(
      rec({ what: fc.constant('v' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      rec({ what: fc.constant('seq' as const), at: fc.integer({ min: 1, max: 1000 }), bit: fc.constant(0) }),
      rec({ what: fc.constant('salt' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      rec({ what: fc.constant('sig' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      rec({ what: fc.constant('k' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    );
    fc.assert(
      fc.property(seed, item, change, (s, it, c) => {
        const k = publicKeyFromSeed(s);
        const sig = signMutable({ seed: Buffer.from(s), publicKey: k }, it);
        const good = { ...it, k, sig };
        const bad =
          c.what === 'v'
            ? { ...good, vBencoded: flip(it.vBencoded, c.at, c.bit) }
            : c.what === 'seq'
              ? { ...good, seq: (BigInt(it.seq) + BigInt(c.at)) % (MAX_SEQ + 1n) }
              : c.what === 'salt'
                ? { ...good, salt: it.salt.length === 0 ? Uint8Array.of(c.bit) : flip(it.salt, c.at, c.bit) }
                : c.what === 'sig'
                  ? { ...good, sig: flip(sig, c.at, c.bit) }
                  : { ...good, k: flip(k, c.at, c.bit) };
        assert.equal(verifyMutable(bad), false);
      }),
      { numRuns: 150 },
    );
  });

  it('verifyMutable never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.oneof(seq, fc.integer(), fc.double()),
        fc.uint8Array({ maxLength: 30 }),
        (k, sig, sq, v) => {
          assert.equal(typeof verifyMutable({ k, sig, seq: sq, vBencoded: v }), 'boolean');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('checkPut seq rule', () => {
  // One key for all runs: what is under test is the ordering, not signing.
  const s = new Uint8Array(32).fill(9);
  const keys = { seed: Buffer.from(s), publicKey: publicKeyFromSeed(s) };
  const put = (sq: number, v: Uint8Array) => ({ k: keys.publicKey, seq: sq, vBencoded: v, sig: signMutable(keys, { seq: sq, vBencoded: v }) });

  it('accepts a higher seq, an equal seq with the same value, and nothing else', () => {
    const small = fc.integer({ min: 0, max: 5 });
    const v = fc.constantFrom(bencode('a'), bencode('b'));
    fc.assert(
      fc.property(small, v, small, v, (curSeq, curV, newSeq, newV) => {
        const first = checkPut(put(curSeq, curV), undefined);
        assert.ok(first.ok);
        const r = checkPut(put(newSeq, newV), first.item);
        const expected = newSeq > curSeq || (newSeq === curSeq && curV.equals(newV));
        assert.equal(r.ok, expected);
        if (!r.ok) assert.equal(r.code, PUT_ERROR.SEQ_TOO_LOW);
      }),
      { numRuns: 100 },
    );
  });
});

describe('key files', () => {
  it('round-trip for any seed', () => {
    fc.assert(
      fc.property(seed, (s) => {
        const keys = { seed: Buffer.from(s), publicKey: publicKeyFromSeed(s) };
        assert.deepEqual(decodeKeyFile(encodeKeyFile(keys)), keys);
      }),
      { numRuns: 100 },
    );
  });

  it('decodeKeyFile throws only Bep44Error on arbitrary text, including damaged key files', () => {
    const text = encodeKeyFile({ seed: Buffer.alloc(32, 1), publicKey: publicKeyFromSeed(Buffer.alloc(32, 1)) });
    const damaged = fc
      .tuple(fc.nat(), fc.string({ maxLength: 3 }))
      .map(([at, s]) => text.slice(0, at % text.length) + s + text.slice((at % text.length) + 1))
      .filter((t) => t !== text);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), damaged), (t) => {
        try {
          decodeKeyFile(t);
        } catch (e) {
          assert.ok(e instanceof Bep44Error && e.code === 'BEP44_KEY_FILE', String(e));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('BEP 46 name values', () => {
  const extra = fc.array(fc.tuple(key.filter((k) => k !== 'ih'), value), { maxLength: 3 }).map((es) => new Map(es));

  it('decode(encode(x)) == x, and re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), extra, (ih, ex) => {
        let v: Buffer;
        try {
          v = encodeNameValue({ ih, extra: ex });
        } catch (e) {
          // Only an oversized value may be refused.
          assert.ok(e instanceof RangeError && bencode(new Map([...ex, ['ih', ih]])).length > 1000);
          return;
        }
        const back = decodeNameValue(v);
        assert.deepEqual(back.ih, Buffer.from(ih));
        assert.deepEqual(back.extra, bdecode(bencode(ex)));
        assert.deepEqual(encodeNameValue(back), v);
      }),
      { numRuns: 200 },
    );
  });

  it('decodeNameValue throws only Bep44Error on arbitrary bytes and values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 60 }), vBencoded), (b) => {
        try {
          const nv = decodeNameValue(b);
          assert.equal(nv.ih.length, 20);
        } catch (e) {
          assert.ok(e instanceof Bep44Error && e.code === 'BEP44_NAME_VALUE', String(e));
        }
      }),
      { numRuns: 200 },
    );
  });
});
