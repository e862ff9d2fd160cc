/**
 * DHT node ids: the XOR metric of Kademlia (BEP 5) and node ids tied to an IP address (BEP 42).
 *
 * For: comparing, generating and checking 20-byte ids. Not for: deciding whom to keep or ask (that
 * is dht/routing-table.ts and the DHT node) or learning our external address. Pure: no I/O.
 *
 * Ids are plain 20-byte Uint8Arrays, read big-endian: bit 0 is the top bit of byte 0. A "range" of
 * ids is written as (prefix, bits): every id whose first `bits` bits equal those of `prefix`.
 * Random sources are functions returning a number in [0, 1), like the rest of seedbank injects, so
 * tests can replay them; they default to Math.random, which is enough here because BEP 42 (not the
 * unpredictability of the id) is what limits where an attacker can place itself.
 */

/** Node ids and info hashes in the DHT are 20 bytes (160 bits). */
export const ID_LENGTH = 20;
export const ID_BITS = ID_LENGTH * 8;

/** The XOR distance between two ids, itself a 20-byte big-endian number. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  checkId(a);
  checkId(b);
  const out = new Uint8Array(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * Negative if `a` is closer to `target` than `b`, positive if farther, 0 only if a equals b (XOR
 * is a bijection, so two different ids are never equally far from one target).
 */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  checkId(target);
  checkId(a);
  checkId(b);
  for (let i = 0; i < ID_LENGTH; i++) {
    const d = (a[i]! ^ target[i]!) - (b[i]! ^ target[i]!);
    if (d !== 0) return d;
  }
  return 0;
}

/** How many leading bits `a` and `b` share: 0..160 (160 when they are equal). */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  checkId(a);
  checkId(b);
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/** Whether the id lies in the range of ids sharing the first `bits` bits of `prefix`. */
export function idInRange(id: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  checkBits(bits);
  return commonPrefixBits(id, prefix) >= bits;
}

/** A uniformly random id. */
export function randomId(random: () => number = Math.random): Uint8Array {
  const out = new Uint8Array(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) out[i] = randomByte(random);
  return out;
}

/** Whether two ids are the same. */
export function idsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return commonPrefixBits(a, b) === ID_BITS;
}

/** The lowest id in the range (prefix, bits): the prefix's first `bits` bits, then zeros. */
export function firstIdInRange(prefix: Uint8Array, bits: number): Uint8Array {
  return randomIdInRange(prefix, bits, () => 0);
}

/**
 * Whether the ranges (prefix, bits) cover every id exactly once: a routing table's buckets must.
 * Arithmetic on 160-bit numbers, so it is a check for tests, not for hot paths.
 */
export function rangesTileIdSpace(ranges: readonly { prefix: Uint8Array; bits: number }[]): boolean {
  const spans = ranges.map((r) => ({ start: BigInt(`0x${idToHex(firstIdInRange(r.prefix, r.bits))}`), size: 1n << BigInt(ID_BITS - r.bits) }));
  spans.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  let next = 0n;
  for (const s of spans) {
    if (s.start !== next) return false;
    next += s.size;
  }
  return next === 1n << BigInt(ID_BITS);
}

/** A random id inside the range (prefix, bits): the id a bucket refresh looks up (BEP 5). */
export function randomIdInRange(prefix: Uint8Array, bits: number, random: () => number = Math.random): Uint8Array {
  checkId(prefix);
  checkBits(bits);
  const out = randomId(random);
  const whole = bits >> 3;
  out.set(prefix.subarray(0, whole));
  const rest = bits & 7;
  if (rest > 0) {
    const keep = (0xff << (8 - rest)) & 0xff;
    out[whole] = (prefix[whole]! & keep) | (out[whole]! & ~keep & 0xff);
  }
  return out;
}

/** Lower-case hex of an id (40 characters). */
export function idToHex(id: Uint8Array): string {
  checkId(id);
  return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');
}

/** The id written as 40 hex digits (either case), or null for anything else. */
export function idFromHex(hex: unknown): Uint8Array | null {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{40}$/.test(hex)) return null;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), the hash BEP 42 names. Table-driven, reflected polynomial 0x82f63b78.
// ---------------------------------------------------------------------------------------------

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` as an unsigned 32-bit number (crc32c("123456789") = 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// BEP 42: the first 21 bits of a node id come from its external IP, so that owning ids near a
// target costs owning many addresses. The masks keep more bits of the low octets than of the
// high ones: addresses in many /8 blocks buy hardly more prefixes than as many in one block.
// ---------------------------------------------------------------------------------------------

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/**
 * A node id valid for the external address `ip` (4 or 16 bytes; an IPv4-mapped IPv6 address counts
 * as IPv4). `rand` (0-255) becomes the last byte, and its low three bits pick one of the eight
 * prefixes the address allows; the 139 bits that BEP 42 leaves free come from `random`.
 */
export function nodeIdForIp(ip: Uint8Array, rand: number, random: () => number = Math.random): Uint8Array {
  if (!Number.isInteger(rand) || rand < 0 || rand > 255) throw new RangeError(`rand ${rand} is not 0-255`);
  const prefix = bep42Prefix(ip, rand & 7);
  const id = randomId(random);
  id[0] = prefix >>> 24;
  id[1] = (prefix >>> 16) & 0xff;
  id[2] = ((prefix >>> 8) & 0xf8) | (id[2]! & 0x07);
  id[19] = rand;
  return id;
}

/**
 * Whether `id` is one BEP 42 allows for a node at `ip`: its first 21 bits match the CRC for the
 * three random bits in its last byte. Nodes on loopback, private and link-local addresses are
 * exempt (they cannot know their external address, and cannot attack the public DHT from there),
 * so for those the answer is always true.
 */
export function isValidNodeIdForIp(id: Uint8Array, ip: Uint8Array): boolean {
  checkId(id);
  if (isBep42Exempt(ip)) return true;
  const prefix = bep42Prefix(ip, id[19]! & 7);
  return id[0] === prefix >>> 24 && id[1] === ((prefix >>> 16) & 0xff) && (id[2]! & 0xf8) === ((prefix >>> 8) & 0xf8);
}

/**
 * Addresses BEP 42 exempts: 10/8, 172.16/12, 192.168/16, 169.254/16 and 127/8. BEP 42 lists IPv4
 * only; the IPv6 counterparts (::1, fe80::/10 link-local, fc00::/7 unique local) are exempt too,
 * for the same reason. An IPv4-mapped address is judged as IPv4.
 */
export function isBep42Exempt(ip: Uint8Array): boolean {
  const v = family(ip);
  if (v.length === 4) {
    const [a, b] = [v[0]!, v[1]!];
    return a === 10 || a === 127 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  const loopback = v.subarray(0, 15).every((x) => x === 0) && v[15] === 1;
  return loopback || (v[0] === 0xfe && (v[1]! & 0xc0) === 0x80) || (v[0]! & 0xfe) === 0xfc;
}

/** crc32c((ip & mask) | (r << 29 or 61)) over the big-endian masked address. */
function bep42Prefix(ip: Uint8Array, r: number): number {
  const v = family(ip);
  const mask = v.length === 4 ? V4_MASK : V6_MASK;
  const masked = Uint8Array.from(mask, (m, i) => v[i]! & m);
  masked[0] = masked[0]! | (r << 5);
  return crc32c(masked);
}

/** The address as 4 bytes if it is IPv4 or IPv4-mapped IPv6, else its 16 bytes. */
function family(ip: Uint8Array): Uint8Array {
  if (ip.length === 4) return ip;
  if (ip.length !== 16) throw new RangeError(`an IP address is 4 or 16 bytes, not ${ip.length}`);
  const mapped = ip.subarray(0, 10).every((x) => x === 0) && ip[10] === 0xff && ip[11] === 0xff;
  return mapped ? ip.subarray(12) : ip;
}

function randomByte(random: () => number): number {
  return Math.floor(random() * 256) & 0xff;
}

function checkId(id: Uint8Array): void {
  if (id.length !== ID_LENGTH) throw new RangeError(`a DHT id is ${ID_LENGTH} bytes, not ${id.length}`);
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > ID_BITS) throw new RangeError(`${bits} is not a prefix length 0-${ID_BITS}`);
}
