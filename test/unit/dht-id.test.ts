/**
 * DHT ids: the XOR metric against BigInt arithmetic, CRC-32C against published check values, and
 * BEP 42 ids against the BEP's own test vectors, the exempt ranges and the bits it leaves free.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  commonPrefixBits,
  compareDistance,
  crc32c,
  firstIdInRange,
  idFromHex,
  idInRange,
  idToHex,
  isBep42Exempt,
  isValidNodeIdForIp,
  nodeIdForIp,
  randomId,
  randomIdInRange,
  rangesTileIdSpace,
  xorDistance,
} from '../../src/codec/dht-id.js';
import { seededRandom as prng } from '../../src/sim/clock.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const big = (id: Uint8Array) => BigInt(`0x${Buffer.from(id).toString('hex')}`);
const id20 = fc.uint8Array({ minLength: 20, maxLength: 20 });

/** The id with bit `bit` (0 = top bit of byte 0) flipped. */
function flip(id: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(id);
  out[bit >> 3] = out[bit >> 3]! ^ (0x80 >> (bit & 7));
  return out;
}

describe('XOR metric', () => {
  it('xorDistance, compareDistance and commonPrefixBits agree with 160-bit arithmetic', () => {
    fc.assert(
      fc.property(id20, id20, id20, (t, a, b) => {
        const da = big(t) ^ big(a);
        const db = big(t) ^ big(b);
        assert.equal(big(xorDistance(t, a)), da);
        const c = compareDistance(t, a, b);
        assert.equal(Math.sign(c), da < db ? -1 : da > db ? 1 : 0);
        const x = big(a) ^ big(b);
        assert.equal(commonPrefixBits(a, b), x === 0n ? 160 : 160 - x.toString(2).length);
      }),
      { numRuns: 200 },
    );
  });

  it('counts shared leading bits at byte edges', () => {
    const zero = new Uint8Array(20);
    assert.equal(commonPrefixBits(zero, zero), 160);
    assert.equal(commonPrefixBits(zero, flip(zero, 0)), 0);
    assert.equal(commonPrefixBits(zero, flip(zero, 7)), 7);
    assert.equal(commonPrefixBits(zero, flip(zero, 8)), 8);
    assert.equal(commonPrefixBits(zero, flip(zero, 159)), 159);
  });

  it('throws RangeError for ids that are not 20 bytes', () => {
    assert.throws(() => xorDistance(new Uint8Array(19), new Uint8Array(20)), RangeError);
    assert.throws(() => commonPrefixBits(new Uint8Array(20), new Uint8Array(21)), RangeError);
    assert.throws(() => idToHex(new Uint8Array(32)), RangeError);
  });
});

describe('id ranges', () => {
  it('randomIdInRange keeps the prefix bits and draws the rest', () => {
    fc.assert(
      fc.property(id20, fc.integer({ min: 0, max: 160 }), fc.integer(), (prefix, bits, seed) => {
        const id = randomIdInRange(prefix, bits, prng(seed));
        assert.ok(idInRange(id, prefix, bits));
        assert.ok(commonPrefixBits(id, prefix) >= bits);
        const first = firstIdInRange(prefix, bits);
        assert.ok(idInRange(first, prefix, bits));
        // The lowest id of the range: every bit after the prefix is zero.
        assert.equal(big(first) & ((1n << BigInt(160 - bits)) - 1n), 0n);
      }),
      { numRuns: 200 },
    );
  });

  it('a random source of all ones and all zeros spans the whole range', () => {
    const prefix = hex('a5'.repeat(20));
    assert.equal(idToHex(randomIdInRange(prefix, 12, () => 0)), 'a5a' + '0'.repeat(37));
    assert.equal(idToHex(randomIdInRange(prefix, 12, () => 0.9999)), 'a5a' + 'f'.repeat(37));
    assert.equal(idToHex(randomIdInRange(prefix, 0, () => 0)), '0'.repeat(40));
    assert.deepEqual(randomIdInRange(prefix, 160, () => 0.5), prefix);
  });

  it('rangesTileIdSpace accepts a partition and rejects gaps and overlaps', () => {
    const self = randomId(prng(7));
    // The shape of a routing table: siblings of self's prefixes, then self's own range.
    const tiles = Array.from({ length: 5 }, (_, i) => ({ prefix: flip(self, i), bits: i + 1 }));
    assert.ok(rangesTileIdSpace([...tiles, { prefix: self, bits: 5 }]));
    assert.ok(rangesTileIdSpace([{ prefix: self, bits: 0 }]));
    assert.ok(!rangesTileIdSpace(tiles), 'self range missing');
    assert.ok(!rangesTileIdSpace([...tiles, { prefix: self, bits: 4 }]), 'overlap');
    assert.ok(!rangesTileIdSpace([...tiles, { prefix: self, bits: 5 }, { prefix: self, bits: 5 }]), 'twice');
  });

  it('idFromHex reads 40 hex digits and nothing else', () => {
    const id = randomId(prng(3));
    assert.deepEqual(idFromHex(idToHex(id)), id);
    assert.deepEqual(idFromHex(idToHex(id).toUpperCase()), id);
    for (const bad of [undefined, null, 42, '', 'zz'.repeat(20), 'ab'.repeat(19), 'ab'.repeat(21), ` ${'ab'.repeat(20)}`]) assert.equal(idFromHex(bad), null);
  });
});

describe('CRC-32C', () => {
  it('matches the standard check values (RFC 3720 B.4 and "123456789")', () => {
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });
});

describe('BEP 42 node ids', () => {
  const VECTORS: [string, number, string][] = [
    ['124.31.75.21', 1, '5fbfbf'],
    ['21.75.31.124', 86, '5a3ce9'],
    ['65.23.51.170', 22, 'a5d432'],
    ['84.124.73.14', 65, '1b0321'],
    ['43.213.53.83', 90, 'e56f6c'],
  ];

  it('makes the ids of the BEP 42 test vectors, whatever the free bits', () => {
    for (const [ip, rand, prefix] of VECTORS) {
      for (const random of [() => 0, () => 0.99999, prng(rand)]) {
        const id = nodeIdForIp(v4(ip), rand, random);
        const want = hex(prefix);
        assert.equal(id[0], want[0], ip);
        assert.equal(id[1], want[1], ip);
        assert.equal(id[2]! & 0xf8, want[2]! & 0xf8, ip);
        assert.equal(id[19], rand, ip);
        assert.ok(isValidNodeIdForIp(id, v4(ip)), ip);
      }
    }
  });

  it('accepts the BEP 42 vectors with other free bits and refuses a changed prefix', () => {
    for (const [ip, rand, prefix] of VECTORS) {
      const id = randomId(prng(rand));
      id.set(hex(prefix));
      id[19] = rand;
      assert.ok(isValidNodeIdForIp(id, v4(ip)), ip);
      for (let bit = 0; bit < 21; bit++) assert.ok(!isValidNodeIdForIp(flip(id, bit), v4(ip)), `${ip} bit ${bit}`);
      // Bits 21..151 are the node's own choice.
      for (const bit of [21, 22, 23, 24, 100, 151]) assert.ok(isValidNodeIdForIp(flip(id, bit), v4(ip)), `${ip} bit ${bit}`);
      // The last byte's low three bits pick the prefix, so they cannot change alone.
      assert.ok(!isValidNodeIdForIp(flip(id, 159), v4(ip)), `${ip} r changed`);
    }
  });

  it('ids are valid for their own address and (almost always) not for another', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 255 }), fc.integer(), (ip, rand, seed) => {
        fc.pre(!isBep42Exempt(ip));
        const id = nodeIdForIp(ip, rand, prng(seed));
        assert.ok(isValidNodeIdForIp(id, ip));
        assert.equal(id[19], rand);
      }),
      { numRuns: 200 },
    );
    // 21 bits of prefix: a different public address matches only by a 1 in 2 million chance.
    const id = nodeIdForIp(v4('124.31.75.21'), 1, prng(1));
    assert.ok(!isValidNodeIdForIp(id, v4('124.31.75.22')));
    assert.ok(!isValidNodeIdForIp(id, v4('8.8.8.8')));
  });

  it('uses only the masked bits of the address', () => {
    // 0x030f3fff: the top 6 bits of the first octet, 4 of the second and 2 of the third do not count.
    const id = nodeIdForIp(v4('124.31.75.21'), 1, prng(2));
    assert.ok(isValidNodeIdForIp(id, v4('0.15.11.21')));
    assert.ok(isValidNodeIdForIp(id, v4('252.255.203.21')));
    assert.ok(!isValidNodeIdForIp(id, v4('124.31.75.20')));
  });

  it('IPv6 uses the first 8 bytes; IPv4-mapped addresses count as IPv4', () => {
    const ip6 = hex('2001067c12e000000000000000000001');
    const id = nodeIdForIp(ip6, 200, prng(5));
    assert.ok(isValidNodeIdForIp(id, ip6));
    const sameHigh = new Uint8Array(ip6);
    sameHigh.fill(0xab, 8);
    assert.ok(isValidNodeIdForIp(id, sameHigh), 'the low 64 bits do not count');
    const otherHigh = new Uint8Array(ip6);
    otherHigh[7] = 0x55;
    assert.ok(!isValidNodeIdForIp(id, otherHigh));

    const mapped = hex('00000000000000000000ffff7c1f4b15'); // ::ffff:124.31.75.21
    const fromMapped = nodeIdForIp(mapped, 1, prng(6));
    assert.equal(idToHex(fromMapped).slice(0, 4), '5fbf');
    assert.ok(isValidNodeIdForIp(fromMapped, v4('124.31.75.21')));
    assert.ok(isValidNodeIdForIp(nodeIdForIp(v4('124.31.75.21'), 1, prng(7)), mapped));
  });

  it('exempts loopback, private and link-local addresses, and only those', () => {
    const anyId = randomId(prng(9));
    for (const ip of ['10.1.2.3', '127.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.9.9']) {
      assert.ok(isBep42Exempt(v4(ip)), ip);
      assert.ok(isValidNodeIdForIp(anyId, v4(ip)), ip);
    }
    for (const ip of ['11.0.0.1', '172.15.0.1', '172.32.0.1', '192.169.0.1', '169.253.0.1', '128.0.0.1', '100.64.0.1']) assert.ok(!isBep42Exempt(v4(ip)), ip);
    for (const ip6 of ['00000000000000000000000000000001', 'fe800000000000000000000000000001', 'fd000000000000000000000000000001', '00000000000000000000ffff0a000001']) {
      assert.ok(isBep42Exempt(hex(ip6)), ip6);
    }
    assert.ok(!isBep42Exempt(hex('2001067c12e000000000000000000001')));
  });

  it('refuses a rand that is not a byte and an address that is not 4 or 16 bytes', () => {
    assert.throws(() => nodeIdForIp(v4('1.2.3.4'), 256), RangeError);
    assert.throws(() => nodeIdForIp(v4('1.2.3.4'), -1), RangeError);
    assert.throws(() => nodeIdForIp(v4('1.2.3.4'), 1.5), RangeError);
    assert.throws(() => nodeIdForIp(new Uint8Array(5), 1), RangeError);
    assert.throws(() => isValidNodeIdForIp(new Uint8Array(20), new Uint8Array(8)), RangeError);
  });
});
