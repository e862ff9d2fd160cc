/**
 * Bencode (BEP 3): a strict decoder and a canonical encoder.
 *
 * For: turning .torrent files, tracker replies and wire-extension payloads into values and back.
 * Not for: interpreting them (see metainfo.ts). Pure: no I/O.
 *
 * The decoder is strict on purpose. A torrent is named by the hash of its `info` bytes, so a value
 * that has two encodings (unsorted keys, leading zeros, `-0`) would let two different files claim
 * one name. Every rejection is a `BencodeError` that names the byte offset.
 *
 * Representation:
 * - byte strings are `Uint8Array` views into the input (no copy);
 * - integers are `number` when they are safe integers, `bigint` otherwise;
 * - dictionaries are `Map`s whose keys are *binary strings* (one char per byte, latin1), so that
 *   keys that are not UTF-8 (the 32-byte roots in `piece layers`) survive and sort byte-wise.
 */

export type BValue = Uint8Array | number | bigint | BList | BDict;
export type BList = BValue[];
export type BDict = Map<string, BValue>;

/** What the encoder accepts: decoded values plus JS strings (encoded as UTF-8). */
export type BEncodable =
  | Uint8Array
  | string
  | number
  | bigint
  | BEncodable[]
  | Map<string, BEncodable | undefined>;

export type BencodeErrorCode =
  | 'BENCODE_TRUNCATED'
  | 'BENCODE_SYNTAX'
  | 'BENCODE_NOT_CANONICAL'
  | 'BENCODE_LIMIT'
  | 'BENCODE_TRAILING';

export class BencodeError extends Error {
  override readonly name = 'BencodeError';
  constructor(
    readonly code: BencodeErrorCode,
    readonly offset: number,
    what: string,
  ) {
    super(`bencode: ${what} at byte ${offset}`);
  }
}

export interface DecodeLimits {
  /** Nesting depth of lists and dictionaries. @default 256 (file trees nest one level per folder) */
  maxDepth?: number;
  /** Input size in bytes. @default 256 MiB */
  maxBytes?: number;
  /** Number of values (strings, integers, lists, dictionaries). @default 16,000,000 */
  maxTokens?: number;
  /** Longest single byte string. @default maxBytes */
  maxStringLength?: number;
  /**
   * Accept dictionary keys out of order (duplicates are still refused). Only for messages that
   * nothing hashes as a whole, e.g. KRPC envelopes, whose senders do not all sort. @default false
   */
  unsortedKeys?: boolean;
}

export const DEFAULT_BENCODE_LIMITS: Required<DecodeLimits> = {
  maxDepth: 256,
  maxBytes: 256 * 1024 * 1024,
  maxTokens: 16_000_000,
  maxStringLength: 256 * 1024 * 1024,
  unsortedKeys: false,
};

export interface Decoded {
  value: BValue;
  /** Byte spans [start, end) of the values of the top-level dictionary, by key. */
  topLevelSpans: Map<string, [number, number]>;
}

const CH_I = 0x69;
const CH_L = 0x6c;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** Decodes exactly one value that spans the whole input. */
export function bdecode(input: Uint8Array, limits: DecodeLimits = {}): BValue {
  return bdecodeWithSpans(input, limits).value;
}

/** Like `bdecode`, and also reports where each top-level dictionary value sits in the input. */
export function bdecodeWithSpans(input: Uint8Array, limits: DecodeLimits = {}): Decoded {
  const lim = { ...DEFAULT_BENCODE_LIMITS, ...limits };
  if (input.length > lim.maxBytes) {
    throw new BencodeError('BENCODE_LIMIT', 0, `input of ${input.length} bytes exceeds the limit of ${lim.maxBytes}`);
  }
  const d = new Decoder(input, lim);
  const value = d.value(0);
  if (d.pos !== input.length) {
    throw new BencodeError('BENCODE_TRAILING', d.pos, 'trailing data after the value');
  }
  return { value, topLevelSpans: d.topLevelSpans };
}

class Decoder {
  pos = 0;
  tokens = 0;
  readonly topLevelSpans = new Map<string, [number, number]>();
  /** A Buffer view of the input, so keys and integers are sliced without a Buffer per token. */
  private readonly text: Buffer;

  constructor(
    private readonly buf: Uint8Array,
    private readonly lim: Required<DecodeLimits>,
  ) {
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  }

  value(depth: number): BValue {
    if (++this.tokens > this.lim.maxTokens) {
      throw new BencodeError('BENCODE_LIMIT', this.pos, `more than ${this.lim.maxTokens} values`);
    }
    const c = this.peek();
    if (c === CH_I) return this.integer();
    if (c === CH_L) return this.list(depth);
    if (c === CH_D) return this.dict(depth);
    if (c >= CH_0 && c <= CH_9) return this.string();
    throw new BencodeError('BENCODE_SYNTAX', this.pos, `unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  }

  private peek(): number {
    if (this.pos >= this.buf.length) throw new BencodeError('BENCODE_TRUNCATED', this.pos, 'unexpected end of input');
    return this.buf[this.pos]!;
  }

  private integer(): number | bigint {
    const start = this.pos;
    this.pos++; // 'i'
    let neg = false;
    if (this.peek() === CH_MINUS) {
      neg = true;
      this.pos++;
    }
    const digitsStart = this.pos;
    while (true) {
      const c = this.peek();
      if (c === CH_E) break;
      if (c < CH_0 || c > CH_9) throw new BencodeError('BENCODE_SYNTAX', this.pos, 'invalid digit in integer');
      this.pos++;
      if (this.pos - digitsStart > 64) throw new BencodeError('BENCODE_LIMIT', start, 'integer longer than 64 digits');
    }
    const digits = this.pos - digitsStart;
    if (digits === 0) throw new BencodeError('BENCODE_SYNTAX', digitsStart, 'integer without digits');
    if (this.buf[digitsStart] === CH_0 && (digits > 1 || neg)) {
      throw new BencodeError('BENCODE_NOT_CANONICAL', digitsStart, neg ? 'negative zero' : 'leading zero in integer');
    }
    const text = this.text.toString('latin1', start + 1, this.pos);
    this.pos++; // 'e'
    if (digits < 16) return Number(text);
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  private string(): Uint8Array {
    const start = this.pos;
    let len = 0;
    while (true) {
      const c = this.peek();
      if (c === CH_COLON) break;
      if (c < CH_0 || c > CH_9) throw new BencodeError('BENCODE_SYNTAX', this.pos, 'invalid digit in string length');
      if (this.pos > start && this.buf[start] === CH_0) {
        throw new BencodeError('BENCODE_NOT_CANONICAL', start, 'leading zero in string length');
      }
      len = len * 10 + (c - CH_0);
      if (len > this.lim.maxStringLength) {
        throw new BencodeError('BENCODE_LIMIT', start, `string longer than ${this.lim.maxStringLength} bytes`);
      }
      this.pos++;
    }
    this.pos++; // ':'
    const end = this.pos + len;
    if (end > this.buf.length) {
      throw new BencodeError('BENCODE_TRUNCATED', start, `string of ${len} bytes runs past the end of input`);
    }
    const s = this.buf.subarray(this.pos, end);
    this.pos = end;
    return s;
  }

  private list(depth: number): BList {
    if (depth >= this.lim.maxDepth) throw new BencodeError('BENCODE_LIMIT', this.pos, `nesting deeper than ${this.lim.maxDepth}`);
    this.pos++; // 'l'
    const out: BList = [];
    while (this.peek() !== CH_E) out.push(this.value(depth + 1));
    this.pos++;
    return out;
  }

  private dict(depth: number): BDict {
    if (depth >= this.lim.maxDepth) throw new BencodeError('BENCODE_LIMIT', this.pos, `nesting deeper than ${this.lim.maxDepth}`);
    this.pos++; // 'd'
    const out: BDict = new Map();
    let prev: Uint8Array | null = null;
    while (this.peek() !== CH_E) {
      const keyAt = this.pos;
      const c = this.peek();
      if (c < CH_0 || c > CH_9) throw new BencodeError('BENCODE_SYNTAX', keyAt, 'dictionary key is not a byte string');
      const key = this.string();
      this.tokens++;
      const keyEnd = this.pos;
      const k = this.text.toString('latin1', keyEnd - key.length, keyEnd);
      // Out of order is allowed only when asked; a repeated key never (which value would count?).
      if (this.lim.unsortedKeys) {
        if (out.has(k)) throw new BencodeError('BENCODE_NOT_CANONICAL', keyAt, 'duplicate dictionary key');
      } else if (prev !== null) {
        const cmp = compareBytes(prev, key);
        if (cmp === 0) throw new BencodeError('BENCODE_NOT_CANONICAL', keyAt, 'duplicate dictionary key');
        if (cmp > 0) throw new BencodeError('BENCODE_NOT_CANONICAL', keyAt, 'dictionary keys not sorted');
      }
      prev = key;
      const valueAt = this.pos;
      out.set(k, this.value(depth + 1));
      if (depth === 0) this.topLevelSpans.set(k, [valueAt, this.pos]);
    }
    this.pos++;
    return out;
  }
}

/** Byte-wise comparison, as bencode orders dictionary keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Canonical encoding: dictionary keys sorted by raw bytes; `undefined` map values are skipped. */
export function bencode(value: BEncodable): Buffer {
  const w = new Writer();
  w.value(value, 0);
  return w.result();
}

/**
 * Writes into one growing buffer. A torrent of 100,000 files has millions of tokens; a Buffer per
 * token (and a concat at the end) cost hundreds of MB of garbage.
 */
class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private ascii(s: string): void {
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  private bytes(b: Uint8Array): void {
    this.ascii(`${b.length}:`);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  value(v: BEncodable, depth: number): void {
    if (depth > DEFAULT_BENCODE_LIMITS.maxDepth) throw new BencodeError('BENCODE_LIMIT', 0, 'value nested too deeply to encode');
    if (v instanceof Uint8Array) {
      this.bytes(v);
    } else if (typeof v === 'string') {
      const n = Buffer.byteLength(v, 'utf8');
      this.ascii(`${n}:`);
      this.reserve(n);
      this.len += this.buf.write(v, this.len, 'utf8');
    } else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new TypeError(`bencode: cannot encode non-integer number ${v}`);
      this.ascii(`i${v}e`);
    } else if (typeof v === 'bigint') {
      this.ascii(`i${v}e`);
    } else if (Array.isArray(v)) {
      this.ascii('l');
      for (const x of v) this.value(x, depth + 1);
      this.ascii('e');
    } else {
      this.ascii('d');
      const keys = [...v.keys()].sort(compareBinaryStrings);
      for (const k of keys) {
        const x = v.get(k);
        if (x === undefined) continue;
        // A binary string: one char per byte. A char above 0xff would be silently truncated.
        // eslint-disable-next-line no-control-regex
        if (/[^\u0000-\u00ff]/.test(k)) throw new TypeError('bencode: dictionary key is not a binary string (use utf8Key)');
        this.ascii(`${k.length}:`);
        this.ascii(k);
        this.value(x, depth + 1);
      }
      this.ascii('e');
    }
  }
}

/** Orders binary (latin1) strings by their bytes; plain `<` on UTF-16 code units agrees for latin1. */
export function compareBinaryStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A dictionary key for a UTF-8 name (file tree entries): its bytes as a binary string. */
export function utf8Key(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

/** The UTF-8 text of a binary-string key. */
export function keyToUtf8(key: string): string {
  return Buffer.from(key, 'latin1').toString('utf8');
}
