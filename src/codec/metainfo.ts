/**
 * Metainfo (.torrent) parsing: BEP 3 (v1), 12 (announce-list), 19 (url-list), 27 (private),
 * 47 (pad files, attr), 52 (v2 file tree, piece layers, hybrid torrents).
 *
 * For: turning untrusted bytes into a validated `Metainfo`. Not for: reading data files.
 * Pure: no I/O. Info hashes are computed over the original `info` bytes, never a re-encoding.
 *
 * A torrent that passes `parseTorrent` has: safe file names, consistent lengths and hash counts,
 * piece layers that hash up to their pieces roots, and (for hybrid torrents) v1 and v2 parts that
 * describe the same files at the same offsets.
 */
import { createHash } from 'node:crypto';
import { type BDict, type BValue, type DecodeLimits, BencodeError, bdecodeWithSpans, keyToUtf8 } from './bencode.js';
import { type FileEntry, type Layout, type TorrentVersion, filePieces, padPath } from './layout.js';
import { BLOCK_SIZE, HASH_SIZE, piecesRootFromLayer } from './merkle.js';
import { checkComponent, checkRelativePath } from './paths.js';
import { MetainfoError, UnsafePathError } from '../errors.js';

/** Largest piece length accepted (libtorrent 2.0's limit). */
export const MAX_PIECE_LENGTH = 256 * 1024 * 1024;
/** Largest total size accepted: 2^53 bytes is where JS numbers stop being exact. */
const MAX_TOTAL = Number.MAX_SAFE_INTEGER;

export interface Metainfo extends Layout {
  readonly version: TorrentVersion;
  readonly name: string;
  /** True when the content is one file stored as `<save path>/<name>`, not a folder. */
  readonly singleFile: boolean;
  /** v1 piece hashes, 20 bytes each; null for v2-only torrents. */
  readonly pieces: Buffer | null;
  /** BEP 52 piece layers by pieces root (hex); absent entries must be fetched from peers. */
  readonly pieceLayers: Map<string, Buffer>;
  readonly infoHashV1: Buffer | null;
  readonly infoHashV2: Buffer | null;
  readonly private: boolean;
  /** BEP 12 tiers; a lone `announce` becomes one tier. */
  readonly trackers: string[][];
  readonly webSeeds: string[];
  readonly comment: string | null;
  readonly createdBy: string | null;
  readonly creationDate: number | null;
  /** The exact bytes of the info dictionary, as hashed. */
  readonly infoBytes: Buffer;
}

export interface ParseOptions {
  limits?: DecodeLimits;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function fail(msg: string): never {
  throw new MetainfoError(`invalid torrent: ${msg}`);
}

function isDict(v: BValue | undefined): v is BDict {
  return v instanceof Map;
}

function text(v: BValue | undefined, what: string): string {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a string`);
  try {
    return utf8Strict.decode(v);
  } catch {
    fail(`${what} is not valid UTF-8`);
  }
}

function optionalText(v: BValue | undefined): string | null {
  if (!(v instanceof Uint8Array)) return null;
  try {
    return utf8Strict.decode(v);
  } catch {
    return null;
  }
}

function nonNegInt(v: BValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not a non-negative integer`);
  return v;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** Parses and validates a .torrent file. Throws `MetainfoError` or `UnsafePathError`. */
export function parseTorrent(bytes: Uint8Array, opts: ParseOptions = {}): Metainfo {
  let decoded;
  try {
    decoded = bdecodeWithSpans(bytes, opts.limits);
  } catch (e) {
    if (e instanceof BencodeError) throw new MetainfoError(`invalid torrent: ${e.message}`, 'METAINFO_BENCODE');
    throw e;
  }
  const root = decoded.value;
  if (!isDict(root)) fail('top level is not a dictionary');
  const info = root.get('info');
  const span = decoded.topLevelSpans.get('info');
  if (!isDict(info) || !span) fail('missing info dictionary');
  const infoBytes = Buffer.from(bytes.buffer, bytes.byteOffset + span[0], span[1] - span[0]);
  const parsed = parseInfo(info, infoBytes, root.get('piece layers'));
  return { ...parsed, ...parseOuter(root) };
}

type OuterFields = Pick<Metainfo, 'trackers' | 'webSeeds' | 'comment' | 'createdBy' | 'creationDate'>;

/** Fields outside the info dictionary: advisory, so a malformed one is dropped, not fatal. */
function parseOuter(root: BDict): OuterFields {
  const trackers: string[][] = [];
  const list = root.get('announce-list');
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.map(optionalText).filter((u): u is string => !!u);
      if (urls.length) trackers.push(urls);
    }
  }
  const announce = optionalText(root.get('announce'));
  if (trackers.length === 0 && announce) trackers.push([announce]);
  const ws = root.get('url-list');
  const webSeeds = (Array.isArray(ws) ? ws.map(optionalText) : [optionalText(ws)]).filter((u): u is string => !!u);
  const date = root.get('creation date');
  return {
    trackers,
    webSeeds,
    comment: optionalText(root.get('comment')),
    createdBy: optionalText(root.get('created by')),
    creationDate: typeof date === 'number' ? date : null,
  };
}

type InfoFields = Omit<Metainfo, keyof OuterFields>;

/** Parses an info dictionary (also what BEP 9 metadata exchange delivers). */
export function parseInfo(info: BDict, infoBytes: Buffer, pieceLayersValue?: BValue): InfoFields {
  const name = text(info.get('name'), 'name');
  checkComponent(name, 'torrent name');
  const pieceLength = nonNegInt(info.get('piece length'), 'piece length');
  if (pieceLength === 0 || pieceLength > MAX_PIECE_LENGTH) fail(`piece length ${pieceLength} out of range`);
  const hasV1 = info.has('pieces');
  const metaVersion = info.get('meta version');
  const hasV2 = metaVersion !== undefined;
  if (hasV2 && metaVersion !== 2) fail(`unsupported meta version ${String(metaVersion)}`);
  if (!hasV1 && !hasV2) fail('neither v1 pieces nor v2 meta version');
  if (hasV2 && (pieceLength < BLOCK_SIZE || (pieceLength & (pieceLength - 1)) !== 0)) {
    fail(`v2 piece length ${pieceLength} is not a power of two of at least 16 KiB`);
  }
  const priv = info.get('private') === 1;

  const v1 = hasV1 ? parseV1Files(info, name) : null;
  const v2 = hasV2 ? parseFileTree(info.get('file tree'), name) : null;

  let files: FileEntry[];
  let singleFile: boolean;
  if (v1 && v2) {
    files = mergeHybrid(v1.files, v2.files, pieceLength);
    singleFile = v1.single;
  } else if (v1) {
    files = v1.files;
    singleFile = v1.single;
  } else {
    files = alignV2(v2!.files, pieceLength);
    singleFile = v2!.single;
  }
  checkUniquePaths(files);
  const last = files[files.length - 1];
  const totalLength = last ? last.offset + last.length : 0;
  const numPieces = Math.ceil(totalLength / pieceLength);

  let pieces: Buffer | null = null;
  if (hasV1) {
    const p = info.get('pieces');
    if (!(p instanceof Uint8Array)) fail('pieces is not a string');
    if (p.length !== numPieces * 20) fail(`pieces holds ${p.length / 20} hashes for ${numPieces} pieces`);
    pieces = Buffer.from(p.buffer, p.byteOffset, p.length);
  }
  const layout: Layout = { pieceLength, files, totalLength, numPieces };
  const pieceLayers = hasV2 ? parsePieceLayers(pieceLayersValue, layout) : new Map<string, Buffer>();

  return {
    version: v1 && v2 ? 'hybrid' : v2 ? 'v2' : 'v1',
    name,
    singleFile,
    ...layout,
    pieces,
    pieceLayers,
    infoHashV1: hasV1 ? createHash('sha1').update(infoBytes).digest() : null,
    infoHashV2: hasV2 ? createHash('sha256').update(infoBytes).digest() : null,
    private: priv,
    infoBytes,
  };
}

interface RawFile {
  path: string[];
  length: number;
  pad: boolean;
  attr: string;
  piecesRoot: Buffer | null;
}

function parseAttr(v: BValue | undefined): { pad: boolean; attr: string } {
  const a = v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : '';
  return { pad: a.includes('p'), attr: a.replace(/p/g, '') };
}

function parseV1Files(info: BDict, name: string): { files: FileEntry[]; single: boolean } {
  const list = info.get('files');
  if (list === undefined) {
    const length = nonNegInt(info.get('length'), 'length');
    const { attr } = parseAttr(info.get('attr'));
    return { files: [{ path: [name], length, offset: 0, pad: false, attr, piecesRoot: null }], single: true };
  }
  if (info.has('length')) fail('both length and files');
  if (!Array.isArray(list) || list.length === 0) fail('files is not a non-empty list');
  const files: FileEntry[] = [];
  let offset = 0;
  list.forEach((f, i) => {
    if (!isDict(f)) fail(`files[${i}] is not a dictionary`);
    const length = nonNegInt(f.get('length'), `files[${i}].length`);
    const p = f.get('path');
    if (!Array.isArray(p) || p.length === 0) fail(`files[${i}].path is not a non-empty list`);
    const path = p.map((c, j) => text(c, `files[${i}].path[${j}]`));
    const { pad, attr } = parseAttr(f.get('attr'));
    // Pad files are never written, so their names are not checked; real files are.
    if (!pad) checkRelativePath(path);
    if (offset + length > MAX_TOTAL) fail('total length too large');
    files.push({ path, length, offset, pad, attr, piecesRoot: null });
    offset += length;
  });
  return { files, single: false };
}

/** Flattens a BEP 52 file tree in its (sorted) key order. */
function parseFileTree(tree: BValue | undefined, name: string): { files: RawFile[]; single: boolean } {
  if (!isDict(tree) || tree.size === 0) fail('file tree is missing or empty');
  const files: RawFile[] = [];
  const walk = (node: BDict, prefix: string[]): void => {
    for (const [key, child] of node) {
      if (key === '') fail(`file tree entry ${JSON.stringify(prefix.join('/'))} mixes a file and a folder`);
      const component = text(Buffer.from(key, 'latin1'), 'file tree key');
      const path = [...prefix, component];
      checkComponent(component, 'file path');
      if (!isDict(child)) fail(`file tree entry ${JSON.stringify(path.join('/'))} is not a dictionary`);
      const leaf = child.get('');
      if (leaf !== undefined) {
        if (child.size !== 1) fail(`file tree entry ${JSON.stringify(path.join('/'))} mixes a file and a folder`);
        if (!isDict(leaf)) fail(`file entry ${JSON.stringify(path.join('/'))} is not a dictionary`);
        files.push(parseV2File(leaf, path));
      } else {
        if (child.size === 0) fail(`empty folder ${JSON.stringify(path.join('/'))} in file tree`);
        walk(child, path);
      }
    }
  };
  walk(tree, []);
  checkRelativePath(files[0]!.path);
  // BEP 52: a single-file torrent's tree holds one entry, named like the torrent. A folder with
  // one file in it is told apart by a name that differs from that entry.
  const single = files.length === 1 && files[0]!.path.length === 1 && files[0]!.path[0] === name;
  return { files, single };
}

function parseV2File(leaf: BDict, path: string[]): RawFile {
  const where = JSON.stringify(path.join('/'));
  const length = nonNegInt(leaf.get('length'), `length of ${where}`);
  const root = leaf.get('pieces root');
  let piecesRoot: Buffer | null = null;
  if (length > 0) {
    if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE) fail(`missing or malformed pieces root for ${where}`);
    piecesRoot = Buffer.from(root.buffer, root.byteOffset, root.length);
  }
  const { pad, attr } = parseAttr(leaf.get('attr'));
  if (pad) fail(`pad file ${where} in a v2 file tree`);
  checkRelativePath(path);
  return { path, length, pad: false, attr, piecesRoot };
}

/** v2 only: lay files out on piece boundaries with synthetic pads (BEP 52 piece numbering). */
function alignV2(files: RawFile[], pieceLength: number): FileEntry[] {
  const out: FileEntry[] = [];
  let offset = 0;
  for (const f of files) {
    if (offset + f.length > MAX_TOTAL) fail('total length too large');
    out.push({ ...f, offset });
    offset += f.length;
    const rest = offset % pieceLength;
    if (f.length > 0 && rest !== 0) {
      out.push({ path: padPath(pieceLength - rest), length: pieceLength - rest, offset, pad: true, attr: '', piecesRoot: null });
      offset += pieceLength - rest;
    }
  }
  // The last file is padded too: libtorrent 2.0 (the reference implementation) sends and requests
  // every v2 piece at full length, the zeros past a file's end included, the torrent's last piece
  // as well. The wire follows this layout, so ours must match it.
  return out;
}

/**
 * Hybrid: the v1 file list must be the v2 file tree in order, with pad files that put every
 * non-empty file on a piece boundary. Anything else would let the two halves disagree about the
 * bytes behind one name.
 */
function mergeHybrid(v1: FileEntry[], v2: RawFile[], pieceLength: number): FileEntry[] {
  // Where BEP 52 puts each file; the v1 list must put it at the same offset, so the only pads
  // allowed are the gaps after files that do not end on a piece boundary (libtorrent's
  // files_compatible check). Anything else gives one v2 content many v1 names.
  const aligned = alignV2(v2, pieceLength).filter((f) => !f.pad);
  const out: FileEntry[] = [];
  let j = 0;
  for (const f of v1) {
    if (f.pad) {
      out.push(f);
      continue;
    }
    const g = aligned[j++];
    if (!g || g.length !== f.length || g.path.join('/') !== f.path.join('/')) {
      fail(`hybrid v1 file ${JSON.stringify(f.path.join('/'))} does not match the v2 file tree`);
    }
    if (f.length > 0 && f.offset !== g.offset) {
      fail(`hybrid file ${JSON.stringify(f.path.join('/'))} is not on its piece boundary (offset ${f.offset} in v1, ${g.offset} in v2)`);
    }
    out.push({ ...f, piecesRoot: g.piecesRoot });
  }
  if (j !== aligned.length) fail('hybrid v2 file tree has files the v1 list lacks');
  const last = aligned[aligned.length - 1]!;
  const v2End = last.offset + last.length;
  const v1End = out.length ? out[out.length - 1]!.offset + out[out.length - 1]!.length : 0;
  // The v1 stream may end with the last file's pad (libtorrent writes it) but not beyond.
  if (Math.ceil(v1End / pieceLength) !== Math.ceil(v2End / pieceLength)) fail('hybrid v1 and v2 parts have different piece counts');
  return out;
}

function checkUniquePaths(files: FileEntry[]): void {
  const seen = new Set<string>();
  const dirs = new Set<string>();
  for (const f of files) {
    if (f.pad) continue;
    const key = f.path.join('/');
    if (seen.has(key) || dirs.has(key)) throw new UnsafePathError(`duplicate file path ${JSON.stringify(key)}`);
    seen.add(key);
    for (let i = 1; i < f.path.length; i++) dirs.add(f.path.slice(0, i).join('/'));
  }
  for (const d of dirs) if (seen.has(d)) throw new UnsafePathError(`path ${JSON.stringify(d)} is both a file and a folder`);
}

function parsePieceLayers(v: BValue | undefined, layout: Layout): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (v === undefined) return out;
  if (!isDict(v)) fail('piece layers is not a dictionary');
  const byRoot = new Map<string, FileEntry>();
  for (const f of layout.files) if (f.piecesRoot && f.length > layout.pieceLength) byRoot.set(hex(f.piecesRoot), f);
  for (const [key, layer] of v) {
    const rootHex = Buffer.from(key, 'latin1').toString('hex');
    const f = byRoot.get(rootHex);
    // Layers for files we do not have (or of one piece) are harmless; ignore them as libtorrent does.
    if (!f) continue;
    if (!(layer instanceof Uint8Array)) fail(`piece layer for ${rootHex} is not a string`);
    const { first, end } = filePieces(layout, f);
    if (layer.length !== (end - first) * HASH_SIZE) fail(`piece layer for ${JSON.stringify(f.path.join('/'))} has the wrong length`);
    const buf = Buffer.from(layer.buffer, layer.byteOffset, layer.length);
    if (!piecesRootFromLayer(buf, layout.pieceLength).equals(f.piecesRoot!)) {
      fail(`piece layer for ${JSON.stringify(f.path.join('/'))} does not hash to its pieces root`);
    }
    out.set(rootHex, buf);
  }
  return out;
}

/** Decodes a binary-string dictionary key that names a file (exported for the builder). */
export const fileKeyToName = keyToUtf8;
