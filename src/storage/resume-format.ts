/**
 * The resume file's bytes: encoding and strict decoding. Pure (no I/O).
 *
 * A resume file is one bencoded dictionary (canonical: keys sorted):
 *
 *   "seedbank resume"  int     format version, 1
 *   "info hash"        bytes   the torrent's v2 info hash (32 bytes) if it has one, else its v1 (20)
 *   "pieces"           int     number of pieces
 *   "verified"         bytes   bitfield of verified pieces, BEP 3 order (high bit of byte 0 is piece 0)
 *   "files"            list    one entry per layout entry (pads included, to keep indices):
 *                                [size, mtime in ns since the epoch] as seen after the data was
 *                                fsynced, or [] when nothing is claimed about the file (a pad, or a
 *                                file no verified piece depends on)
 *   "saved"            int     seconds since the epoch (information only)
 *   "checksum"         bytes   SHA-256 of the encoding of this dictionary without "checksum"
 *
 * Bencode rather than JSON: 64-bit nanosecond times and binary hashes need no text encoding, and
 * the project already has a strict canonical decoder (libtorrent's .fastresume is bencoded too).
 * The checksum catches what the decoder cannot (a flipped bit in the bitfield would otherwise claim
 * a piece). The file is replaced atomically, so a torn file means a foreign writer: it is ignored.
 */
import { createHash } from 'node:crypto';
import { type BDict, type BEncodable, bdecode, bencode } from '../codec/bencode.js';
import { Bitfield } from '../codec/bitfield.js';

export const RESUME_FORMAT_VERSION = 1;
/** A resume file is small (a bit per piece, a few bytes per file); anything larger is not ours. */
export const MAX_RESUME_BYTES = 256 * 1024 * 1024;

export interface FileStamp {
  size: number;
  /** Modification time in nanoseconds since the epoch (ext4, XFS and APFS keep nanoseconds). */
  mtimeNs: bigint;
}

export interface ResumeData {
  infoHash: Buffer;
  verified: Bitfield;
  /** One per layout entry: the file's stamp, or null when nothing is claimed about it. */
  files: (FileStamp | null)[];
  /** Seconds since the epoch. */
  savedAt: number;
}

export class ResumeFormatError extends Error {
  override name = 'ResumeFormatError';
}

function body(d: ResumeData): Map<string, BEncodable> {
  const m = new Map<string, BEncodable>();
  m.set('seedbank resume', RESUME_FORMAT_VERSION);
  m.set('info hash', d.infoHash);
  m.set('pieces', d.verified.size);
  m.set('verified', d.verified.bytes);
  m.set(
    'files',
    d.files.map((s) => (s ? [s.size, s.mtimeNs] : [])),
  );
  m.set('saved', Math.floor(d.savedAt));
  return m;
}

export function encodeResume(d: ResumeData): Buffer {
  const m = body(d);
  m.set('checksum', createHash('sha256').update(bencode(m)).digest());
  return bencode(m);
}

function fail(why: string): never {
  throw new ResumeFormatError(`invalid resume file: ${why}`);
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not a non-negative integer`);
  return v;
}

function bytes(v: unknown, what: string): Buffer {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a byte string`);
  return Buffer.from(v);
}

/** Decodes and checks a resume file; throws ResumeFormatError for anything not exactly right. */
export function decodeResume(input: Uint8Array): ResumeData {
  if (input.length > MAX_RESUME_BYTES) fail('too large');
  let root;
  try {
    root = bdecode(input, { maxBytes: MAX_RESUME_BYTES, maxDepth: 4 });
  } catch (e) {
    fail((e as Error).message);
  }
  if (!(root instanceof Map)) fail('not a dictionary');
  const dict = root as BDict;
  const checksum = bytes(dict.get('checksum'), 'checksum');
  const rest = new Map(dict);
  rest.delete('checksum');
  // The decoder accepts only canonical bencode, so re-encoding gives back the bytes that were hashed.
  if (!createHash('sha256').update(bencode(rest)).digest().equals(checksum)) fail('checksum mismatch');
  if (dict.get('seedbank resume') !== RESUME_FORMAT_VERSION) fail(`unsupported format version ${String(dict.get('seedbank resume'))}`);
  const infoHash = bytes(dict.get('info hash'), 'info hash');
  if (infoHash.length !== 20 && infoHash.length !== 32) fail('info hash is neither 20 nor 32 bytes');
  const pieces = int(dict.get('pieces'), 'pieces');
  let verified: Bitfield;
  try {
    verified = new Bitfield(pieces, bytes(dict.get('verified'), 'verified'));
  } catch (e) {
    fail((e as Error).message);
  }
  const list = dict.get('files');
  if (!Array.isArray(list)) fail('files is not a list');
  const files = list.map((entry, i): FileStamp | null => {
    if (!Array.isArray(entry) || (entry.length !== 0 && entry.length !== 2)) fail(`files[${i}] is not [] or [size, mtime]`);
    if (entry.length === 0) return null;
    const mtime = entry[1];
    if (typeof mtime !== 'bigint' && (typeof mtime !== 'number' || !Number.isSafeInteger(mtime))) fail(`files[${i}] mtime is not an integer`);
    return { size: int(entry[0], `files[${i}] size`), mtimeNs: BigInt(mtime) };
  });
  return { infoHash, verified, files, savedAt: int(dict.get('saved'), 'saved') };
}
