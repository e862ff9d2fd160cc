/**
 * BEP 44 items (data stored in the DHT) and BEP 46 values (a dataset name pointing at an info hash).
 *
 * For: targets, the exact bytes a mutable item's signature covers, ed25519 signing and verifying,
 * the rules a storing node applies to a `put`, key files, and the `{ ih }` value of BEP 46.
 * Not for: sending `get`/`put` queries, write tokens, expiry or republishing (the DHT does that).
 * Pure: node:crypto only (SHA-1 and ed25519), no sockets, no files; key files are text in and out.
 *
 * Keys are raw bytes: a 32-byte ed25519 public key and the 32-byte RFC 8032 seed it comes from.
 * libsodium's 64-byte "secret key" is seed + public key; BEP 44's own test vectors print a third
 * form (the expanded, already-hashed scalar), from which the seed cannot be recovered. The seed is
 * what node:crypto signs with, so it is what we keep.
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { SeedbankError } from '../errors.js';
import { type BDict, type BEncodable, bdecode, bencode } from './bencode.js';
import { KRPC_ERROR, MAX_SALT_LENGTH, MAX_VALUE_LENGTH } from './krpc.js';

/** Longest bencoded `v` a storing node accepts (BEP 44). */
export const MAX_ITEM_VALUE = MAX_VALUE_LENGTH;
/** Longest salt a storing node accepts (BEP 44). */
export const MAX_SALT = MAX_SALT_LENGTH;
export const PUBLIC_KEY_LENGTH = 32;
export const SEED_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
/** seq is a signed 64-bit integer on the wire; negative ones are never valid. */
export const MAX_SEQ = (1n << 63n) - 1n;

/**
 * A sequence number. `bdecode` gives integers past 2^53 as bigint, and a publisher may use a clock
 * in microseconds, so both forms are accepted; compare them with `compareSeq`, never `===`.
 */
export type Seq = number | bigint;

export type Bep44ErrorCode =
  /** A key file that is not one this module wrote, or whose public key does not match its seed. */
  | 'BEP44_KEY_FILE'
  /** A BEP 46 value that is not `d2:ih20:...e`-shaped. */
  | 'BEP44_NAME_VALUE';

/** Bad user or network input to the BEP 44/46 codecs. One-line message; `code` to branch on. */
export class Bep44Error extends SeedbankError {
  override name = 'Bep44Error';
  declare readonly code: Bep44ErrorCode;
  constructor(code: Bep44ErrorCode, message: string) {
    super(code, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Targets and the signed bytes
// ---------------------------------------------------------------------------------------------

/** The DHT key of an immutable item: SHA-1 of its bencoded value. */
export function immutableTarget(vBencoded: Uint8Array): Buffer {
  return createHash('sha1').update(vBencoded).digest();
}

/** The DHT key of a mutable item: SHA-1(k + salt). An empty salt is the same as none. */
export function mutableTarget(k: Uint8Array, salt?: Uint8Array): Buffer {
  const h = createHash('sha1').update(k);
  if (salt !== undefined && salt.length > 0) h.update(salt);
  return h.digest();
}

/** True for an integer 0..2^63-1, in either representation. */
export function isSeq(x: unknown): x is Seq {
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0;
  if (typeof x === 'bigint') return x >= 0n && x <= MAX_SEQ;
  return false;
}

/** Orders sequence numbers whatever their representation: negative, zero or positive. */
export function compareSeq(a: Seq, b: Seq): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The bytes a mutable item's signature covers: the bencoded dictionary {salt, seq, v} without its
 * outer `d`/`e`, i.e. `4:salt<n>:<salt>3:seqi<seq>e1:v<v>`. The salt part is left out when the
 * salt is empty, so "no salt" and "empty salt" sign the same thing (and have the same target).
 * `vBencoded` is copied as is: it is already bencoded. Throws RangeError for an invalid seq.
 */
export function signatureBuffer(opts: { salt?: Uint8Array; seq: Seq; vBencoded: Uint8Array }): Buffer {
  if (!isSeq(opts.seq)) throw new RangeError(`seq ${String(opts.seq)} is not an integer 0..2^63-1`);
  const parts: Uint8Array[] = [];
  if (opts.salt !== undefined && opts.salt.length > 0) {
    parts.push(Buffer.from(`4:salt${opts.salt.length}:`, 'latin1'), opts.salt);
  }
  parts.push(Buffer.from(`3:seqi${opts.seq}e1:v`, 'latin1'), opts.vBencoded);
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// ed25519
// ---------------------------------------------------------------------------------------------

export interface Ed25519Keys {
  /** 32 bytes: the `k` of every item these keys sign. */
  publicKey: Buffer;
  /** 32 bytes: the RFC 8032 private key. Whoever holds it can rewrite every name under `publicKey`. */
  seed: Buffer;
}

// ASN.1 headers that wrap a raw ed25519 key as PKCS #8 (private) and SPKI (public) DER; the
// key bytes follow. Fixed for ed25519 (RFC 8410), and cheaper than a JWK's base64 round trip.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`an ed25519 seed is ${SEED_LENGTH} bytes, not ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function rawPublicKey(key: KeyObject): Buffer {
  // SPKI DER ends with the 32 raw key bytes.
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

/** New random keys (from the operating system's CSPRNG, through node:crypto). */
export function generateKeys(): Ed25519Keys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return { publicKey: rawPublicKey(publicKey), seed: Buffer.from(seed) };
}

/** The public key of a 32-byte seed. Throws RangeError for a seed of another length. */
export function publicKeyFromSeed(seed: Uint8Array): Buffer {
  return rawPublicKey(createPublicKey(privateKeyObject(seed)));
}

/**
 * Signs a mutable item: returns the 64-byte `sig`. Refuses (RangeError) what no storing node would
 * accept, so the mistake shows up here and not as a 205/207 from a stranger: a value over 1000
 * bytes or not one bencoded value, a salt over 64 bytes, an invalid seq, or keys whose public key
 * is not the seed's (items signed with them would fail verification under `k`).
 */
export function signMutable(keys: Ed25519Keys, item: { salt?: Uint8Array; seq: Seq; vBencoded: Uint8Array }): Buffer {
  if (item.vBencoded.length > MAX_ITEM_VALUE) throw new RangeError(`value of ${item.vBencoded.length} bytes; BEP 44 allows ${MAX_ITEM_VALUE}`);
  if (!isOneBencodedValue(item.vBencoded)) throw new RangeError('value is not one bencoded value');
  if (item.salt !== undefined && item.salt.length > MAX_SALT) throw new RangeError(`salt of ${item.salt.length} bytes; BEP 44 allows ${MAX_SALT}`);
  const key = privateKeyObject(keys.seed);
  if (!rawPublicKey(createPublicKey(key)).equals(keys.publicKey)) throw new RangeError("the public key is not the seed's");
  return sign(null, signatureBuffer(item), key);
}

/**
 * Whether `sig` is `k`'s signature of the item. Never throws: a key, signature or seq of the wrong
 * shape, or a key that is not a curve point, is simply not a valid signature. Checks the signature
 * only; value and salt limits are `checkPut`'s.
 */
export function verifyMutable(item: { k: Uint8Array; salt?: Uint8Array; seq: Seq; vBencoded: Uint8Array; sig: Uint8Array }): boolean {
  try {
    if (item.k.length !== PUBLIC_KEY_LENGTH || item.sig.length !== SIGNATURE_LENGTH || !isSeq(item.seq)) return false;
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, item.k]), format: 'der', type: 'spki' });
    return verify(null, signatureBuffer(item), key, item.sig);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Storing node rules
// ---------------------------------------------------------------------------------------------

/** Error codes of a refused put: BEP 5's protocol error and BEP 44's own. */
export const PUT_ERROR = {
  /** A field is missing or malformed (k not 32 bytes, v not bencode, a target that is not the item's). */
  PROTOCOL: KRPC_ERROR.PROTOCOL,
  VALUE_TOO_BIG: KRPC_ERROR.VALUE_TOO_BIG,
  BAD_SIGNATURE: KRPC_ERROR.INVALID_SIGNATURE,
  SALT_TOO_BIG: KRPC_ERROR.SALT_TOO_BIG,
  CAS_MISMATCH: KRPC_ERROR.CAS_MISMATCH,
  SEQ_TOO_LOW: KRPC_ERROR.SEQ_TOO_LOW,
} as const;
export type PutErrorCode = (typeof PUT_ERROR)[keyof typeof PUT_ERROR];

/** The arguments of a `put`. No `k` means an immutable item (any seq, sig, salt or cas is ignored). */
export interface PutRequest {
  vBencoded: Uint8Array;
  /** If the caller already has a target (the one its write token was for), it must be the item's own. */
  target?: Uint8Array;
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: Seq;
  /** Compare-and-swap: the seq the writer believes is stored now. */
  cas?: Seq;
  salt?: Uint8Array;
}

/** An item as a storing node keeps it. Mutable items have `k`, `seq` and `sig`; `salt` only if non-empty. */
export interface StoredItem {
  target: Buffer;
  vBencoded: Buffer;
  k?: Buffer;
  salt?: Buffer;
  seq?: Seq;
  sig?: Buffer;
}

export type PutResult = { ok: true; item: StoredItem } | { ok: false; code: PutErrorCode; message: string };

/**
 * The rules a storing node applies to a put (BEP 44), given what it holds at that target now.
 * Returns the item to store (fields copied, so it does not hold on to a packet buffer) or the error
 * to answer with. Checks run cheapest first: value size (205), a malformed field (203), salt size
 * (207), target (203), signature (206), then against the current item: cas (301, only when an item
 * is stored, as there is nothing to compare with otherwise) and seq (302). An equal seq is accepted
 * only with an identical value, which is a refresh; a different value under an equal seq is 302,
 * since otherwise two values could take turns replacing each other at one seq.
 * Throws RangeError if `current` is not at the put's target (the caller looked up the wrong item).
 */
export function checkPut(put: PutRequest, current: StoredItem | undefined): PutResult {
  const fail = (code: PutErrorCode, message: string): PutResult => ({ ok: false, code, message });
  const v = put.vBencoded;
  if (v.length > MAX_ITEM_VALUE) return fail(PUT_ERROR.VALUE_TOO_BIG, `value of ${v.length} bytes; the most is ${MAX_ITEM_VALUE}`);
  if (!isOneBencodedValue(v)) return fail(PUT_ERROR.PROTOCOL, 'value is not one bencoded value');

  if (put.k === undefined) {
    const target = immutableTarget(v);
    if (put.target !== undefined && !target.equals(put.target)) return fail(PUT_ERROR.PROTOCOL, 'target is not the SHA-1 of the value');
    checkCurrent(current, target);
    return { ok: true, item: { target, vBencoded: Buffer.from(v) } };
  }

  const { k, sig, seq, cas } = put;
  if (k.length !== PUBLIC_KEY_LENGTH) return fail(PUT_ERROR.PROTOCOL, `k of ${k.length} bytes; a public key is ${PUBLIC_KEY_LENGTH}`);
  if (sig === undefined || sig.length !== SIGNATURE_LENGTH) return fail(PUT_ERROR.PROTOCOL, `a mutable put needs a ${SIGNATURE_LENGTH}-byte sig`);
  if (!isSeq(seq)) return fail(PUT_ERROR.PROTOCOL, 'a mutable put needs a seq 0..2^63-1');
  if (cas !== undefined && !isSeq(cas)) return fail(PUT_ERROR.PROTOCOL, 'cas is not an integer 0..2^63-1');
  const salt = put.salt !== undefined && put.salt.length > 0 ? put.salt : undefined;
  if (salt !== undefined && salt.length > MAX_SALT) return fail(PUT_ERROR.SALT_TOO_BIG, `salt of ${salt.length} bytes; the most is ${MAX_SALT}`);
  const target = mutableTarget(k, salt);
  if (put.target !== undefined && !target.equals(put.target)) return fail(PUT_ERROR.PROTOCOL, 'target is not the SHA-1 of k and salt');
  if (!verifyMutable({ k, salt, seq, vBencoded: v, sig })) return fail(PUT_ERROR.BAD_SIGNATURE, 'signature does not verify');

  checkCurrent(current, target);
  if (current?.seq !== undefined) {
    if (cas !== undefined && compareSeq(cas, current.seq) !== 0) return fail(PUT_ERROR.CAS_MISMATCH, `cas ${cas} but the stored seq is ${current.seq}`);
    const order = compareSeq(seq, current.seq);
    if (order < 0) return fail(PUT_ERROR.SEQ_TOO_LOW, `seq ${seq} is lower than the stored ${current.seq}`);
    if (order === 0 && !current.vBencoded.equals(v)) return fail(PUT_ERROR.SEQ_TOO_LOW, `seq ${seq} is already stored with another value`);
  }
  const item: StoredItem = { target, vBencoded: Buffer.from(v), k: Buffer.from(k), seq, sig: Buffer.from(sig) };
  if (salt !== undefined) item.salt = Buffer.from(salt);
  return { ok: true, item };
}

function checkCurrent(current: StoredItem | undefined, target: Buffer): void {
  if (current !== undefined && !current.target.equals(target)) throw new RangeError('checkPut: the current item is stored under another target');
}

function isOneBencodedValue(b: Uint8Array): boolean {
  try {
    bdecode(b, { maxBytes: MAX_ITEM_VALUE });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Key files
// ---------------------------------------------------------------------------------------------

/*
 * A key file is text, so that a person can see what it is and back it up:
 *
 *   # comment lines and blank lines are ignored
 *   seedbank-ed25519-key 1
 *   seed: <64 hex digits>
 *   public-key: <64 hex digits>
 *
 * The public key is redundant (it follows from the seed); it is there so a reader can match a file
 * to a name without tools, and decoding checks that the two agree, which catches a file edited or
 * damaged by hand.
 */
const KEY_FILE_HEADER = 'seedbank-ed25519-key 1';

/** The text of a key file for `keys` (with a comment saying it is secret). */
export function encodeKeyFile(keys: Ed25519Keys): string {
  if (keys.seed.length !== SEED_LENGTH || keys.publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError('keys of the wrong length');
  return [
    '# seedbank signing key (ed25519, BEP 44/46). Secret: whoever has this file can publish under its names.',
    KEY_FILE_HEADER,
    `seed: ${Buffer.from(keys.seed).toString('hex')}`,
    `public-key: ${Buffer.from(keys.publicKey).toString('hex')}`,
    '',
  ].join('\n');
}

/** Reads a key file. Throws Bep44Error BEP44_KEY_FILE, naming what is wrong, for anything else. */
export function decodeKeyFile(text: string): Ed25519Keys {
  const bad = (what: string) => new Bep44Error('BEP44_KEY_FILE', `not a seedbank key file: ${what}`);
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines[0] !== KEY_FILE_HEADER) throw bad(`the first line must be "${KEY_FILE_HEADER}"`);
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const m = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (m === null) throw bad(`cannot read the line ${JSON.stringify(line.slice(0, 40))}`);
    const name = m[1];
    const value = m[2];
    if (name !== 'seed' && name !== 'public-key') throw bad(`unknown field "${name}"`);
    if (fields.has(name)) throw bad(`"${name}" appears twice`);
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw bad(`"${name}" is not 64 hex digits`);
    fields.set(name, value);
  }
  const seedHex = fields.get('seed');
  const publicHex = fields.get('public-key');
  if (seedHex === undefined || publicHex === undefined) throw bad('it needs both "seed" and "public-key"');
  const seed = Buffer.from(seedHex, 'hex');
  const publicKey = Buffer.from(publicHex, 'hex');
  if (!publicKeyFromSeed(seed).equals(publicKey)) {
    throw new Bep44Error('BEP44_KEY_FILE', 'key file is damaged: its public key does not belong to its seed');
  }
  return { publicKey, seed };
}

// ---------------------------------------------------------------------------------------------
// BEP 46 values
// ---------------------------------------------------------------------------------------------

/** The value a BEP 46 name points to: the info hash, and any other keys a newer writer added. */
export interface NameValue {
  /** 20 bytes: the v1 info hash, or a v2 one truncated to 20 bytes, as in a magnet link. */
  ih: Buffer;
  /** Keys other than `ih`, kept so that they survive a decode and re-encode (byte strings are views of the input). */
  extra: BDict;
}

/**
 * Encodes `{ ih, ...extra }` as a mutable item's `v`. Throws RangeError if ih is not 20 bytes,
 * extra has its own `ih`, or the result is over 1000 bytes (no node would store it).
 */
export function encodeNameValue(v: { ih: Uint8Array; extra?: ReadonlyMap<string, BEncodable> }): Buffer {
  if (v.ih.length !== 20) throw new RangeError(`ih of ${v.ih.length} bytes; an info hash here is 20`);
  if (v.extra?.has('ih')) throw new RangeError('extra must not contain "ih"');
  const out = bencode(new Map<string, BEncodable>([...(v.extra ?? []), ['ih', v.ih]]));
  if (out.length > MAX_ITEM_VALUE) throw new RangeError(`name value of ${out.length} bytes; BEP 44 allows ${MAX_ITEM_VALUE}`);
  return out;
}

/** Decodes a BEP 46 value. Throws Bep44Error BEP44_NAME_VALUE unless it is a dictionary with a 20-byte `ih`. */
export function decodeNameValue(vBencoded: Uint8Array): NameValue {
  const bad = (what: string) => new Bep44Error('BEP44_NAME_VALUE', `not a dataset name value: ${what}`);
  if (vBencoded.length > MAX_ITEM_VALUE) throw bad(`${vBencoded.length} bytes, over BEP 44's ${MAX_ITEM_VALUE}`);
  let d: unknown;
  try {
    d = bdecode(vBencoded);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : 'not bencode');
  }
  if (!(d instanceof Map)) throw bad('not a dictionary');
  const dict = d as BDict;
  const ih = dict.get('ih');
  if (!(ih instanceof Uint8Array) || ih.length !== 20) throw bad('no 20-byte "ih"');
  const extra: BDict = new Map(dict);
  extra.delete('ih');
  return { ih: Buffer.from(ih), extra };
}
