/**
 * Hostile .torrent files: every malformed or dangerous input must be refused by parseTorrent with
 * a MetainfoError or an UnsafePathError, never another error type (TypeError, RangeError...) and
 * never accepted.
 *
 * Each case starts from a valid v1, v2 or hybrid torrent built here by hand and breaks one thing.
 * Some cases are also kept as regression fixtures in test/fixtures/hostile/, named
 * `<expected error>--<case>.torrent`; every file there must be refused. To rewrite them after
 * changing a case: SEEDBANK_WRITE_FIXTURES=1 node --test dist/test/unit/metainfo-hostile.test.js
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { type BEncodable, bencode } from '../../src/codec/bencode.js';
import { hashPair, piecesRootOf } from '../../src/codec/merkle.js';
import { parseTorrent } from '../../src/codec/metainfo.js';
import { MetainfoError, UnsafePathError } from '../../src/errors.js';

type D = Map<string, BEncodable | undefined>;
type Expect = 'metainfo' | 'unsafe';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/hostile/', import.meta.url));

const PL = 16 * 1024;
const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest();
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
const m = (o: Record<string, BEncodable | undefined>): D => new Map(Object.entries(o));
const get = (d: D, ...keys: string[]): D => keys.reduce((x, k) => x.get(k) as D, d);
const list = (d: D, key: string) => d.get(key) as D[];

function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

// Two files: 'a' spans two pieces (so it has a piece layer), 'sub/b' fits in one.
const A = bytes(20_000, 1);
const B = bytes(100, 2);
const ROOT_A = piecesRootOf(A, PL)!;
const ROOT_B = piecesRootOf(B, PL)!;
const LAYER_A = Buffer.concat([sha256(A.subarray(0, PL)), sha256(A.subarray(PL))]);
const PAD = PL * 2 - A.length;

function v1Pieces(stream: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < stream.length; p += PL) out.push(sha1(stream.subarray(p, p + PL)));
  return Buffer.concat(out);
}

interface Base {
  top: D;
  info: D;
}

const withTop = (info: D, extra: Record<string, BEncodable> = {}): Base => ({ info, top: m({ announce: 'udp://t.example:1', ...extra, info }) });

function v1Single(): Base {
  return withTop(m({ name: 'a.bin', 'piece length': PL, length: A.length, pieces: v1Pieces(A) }));
}

function v1Multi(): Base {
  return withTop(
    m({
      name: 'd',
      'piece length': PL,
      files: [m({ length: A.length, path: ['a'] }), m({ length: B.length, path: ['sub', 'b'] })],
      pieces: v1Pieces(Buffer.concat([A, B])),
    }),
  );
}

const fileTree = (): D =>
  m({
    a: m({ '': m({ length: A.length, 'pieces root': ROOT_A }) }),
    sub: m({ b: m({ '': m({ length: B.length, 'pieces root': ROOT_B }) }) }),
  });

const pieceLayers = (): D => new Map([[ROOT_A.toString('latin1'), LAYER_A]]);

function v2(): Base {
  return withTop(m({ name: 'd', 'piece length': PL, 'meta version': 2, 'file tree': fileTree() }), { 'piece layers': pieceLayers() });
}

function hybrid(): Base {
  const b = v2();
  b.info.set('files', [
    m({ length: A.length, path: ['a'] }),
    m({ length: PAD, path: ['.pad', String(PAD)], attr: 'p' }),
    m({ length: B.length, path: ['sub', 'b'] }),
  ]);
  b.info.set('pieces', v1Pieces(Buffer.concat([A, Buffer.alloc(PAD), B])));
  return b;
}

const enc = (b: Base) => bencode(b.top);

/** A v2 torrent with one empty file `depth` folders deep: d/d/.../d. */
function deepTree(depth: number): Buffer {
  const tree = `${'d1:d'.repeat(depth)}d0:d6:lengthi0eee${'e'.repeat(depth)}`;
  return Buffer.from(`d4:infod9:file tree${tree}12:meta versioni2e4:name1:x12:piece lengthi${PL}eee`);
}

interface Case {
  name: string;
  expect: Expect;
  build: () => Buffer;
  /** What the message must say, so that a case fails for the reason it is named after. */
  why?: RegExp;
  /** Also kept as a binary regression fixture. */
  fixture?: boolean;
}

/** A case that breaks one thing in a fresh copy of a base torrent. */
const edit = (base: () => Base, change: (b: Base) => void) => () => {
  const b = base();
  change(b);
  return enc(b);
};

const cases: Case[] = [
  // --- File names
  { name: 'v1 path traversal ../etc/passwd', expect: 'unsafe', why: /relative path component/, fixture: true, build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['..', 'etc', 'passwd'])) },
  { name: 'v1 absolute-looking component /etc/passwd', expect: 'unsafe', fixture: true, build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['/etc/passwd'])) },
  { name: 'v1 path with an empty component', expect: 'unsafe', build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['sub', '', 'b'])) },
  { name: 'v1 path with a backslash', expect: 'unsafe', build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['..\\..\\x'])) },
  { name: 'v1 path with a terminal escape', expect: 'unsafe', build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['\x1b]0;pwned\x07'])) },
  { name: 'v1 path component of 256 bytes', expect: 'unsafe', why: /longer than 255/, build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['x'.repeat(256)])) },
  { name: 'v1 path longer than 3072 bytes', expect: 'unsafe', why: /longer than 3072/, build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', Array.from({ length: 13 }, () => 'x'.repeat(255)))) },
  { name: 'name with NUL', expect: 'unsafe', why: /torrent name.*NUL/, fixture: true, build: edit(v1Single, (b) => b.info.set('name', 'a\0.bin')) },
  { name: 'name ..', expect: 'unsafe', fixture: true, build: edit(v1Multi, (b) => b.info.set('name', '..')) },
  { name: 'name .', expect: 'unsafe', build: edit(v1Multi, (b) => b.info.set('name', '.')) },
  { name: 'empty name', expect: 'unsafe', build: edit(v1Single, (b) => b.info.set('name', '')) },
  { name: 'name /etc/passwd', expect: 'unsafe', build: edit(v1Single, (b) => b.info.set('name', '/etc/passwd')) },
  { name: 'name with a slash', expect: 'unsafe', build: edit(v2, (b) => b.info.set('name', 'x/..')) },
  { name: 'name that is not UTF-8', expect: 'metainfo', why: /UTF-8/, build: edit(v1Single, (b) => b.info.set('name', Buffer.from([0xff, 0xfe]))) },
  { name: 'name missing', expect: 'metainfo', build: edit(v1Single, (b) => b.info.delete('name')) },
  { name: 'name an integer', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('name', 7)) },
  { name: 'v1 path component an integer', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['sub', 7])) },
  { name: 'v1 path component not UTF-8', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', [Buffer.from([0xc3])])) },
  { name: 'v2 tree key ..', expect: 'unsafe', fixture: true, build: edit(v2, (b) => get(b.info, 'file tree').set('..', get(b.info, 'file tree', 'sub'))) },
  { name: 'v2 tree key with a slash', expect: 'unsafe', build: edit(v2, (b) => get(b.info, 'file tree').set('x/y', get(b.info, 'file tree', 'a'))) },
  { name: 'v2 tree key with NUL', expect: 'unsafe', build: edit(v2, (b) => get(b.info, 'file tree', 'sub').set('b\0', get(b.info, 'file tree', 'sub', 'b'))) },
  { name: 'v2 tree key not UTF-8', expect: 'metainfo', why: /UTF-8/, build: edit(v2, (b) => get(b.info, 'file tree').set('\xff', get(b.info, 'file tree', 'a'))) },
  { name: 'v2 single file whose tree entry is ..', expect: 'unsafe', build: edit(v2, (b) => b.info.set('file tree', m({ '..': get(b.info, 'file tree', 'a') }))) },

  // --- v1 structure
  { name: 'v1 pieces one hash short', expect: 'metainfo', why: /pieces holds/, fixture: true, build: edit(v1Multi, (b) => b.info.set('pieces', (b.info.get('pieces') as Buffer).subarray(20))) },
  { name: 'v1 pieces not a multiple of 20', expect: 'metainfo', why: /pieces holds/, build: edit(v1Multi, (b) => b.info.set('pieces', Buffer.concat([b.info.get('pieces') as Buffer, Buffer.alloc(7)]))) },
  { name: 'v1 pieces an integer', expect: 'metainfo', build: edit(v1Multi, (b) => b.info.set('pieces', 40)) },
  { name: 'negative length', expect: 'metainfo', fixture: true, build: edit(v1Single, (b) => b.info.set('length', -1)) },
  { name: 'negative file length', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[0]!.set('length', -20_000)) },
  { name: 'length as a string', expect: 'metainfo', fixture: true, build: edit(v1Single, (b) => b.info.set('length', '20000')) },
  { name: 'length beyond 2^53', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('length', 2n ** 64n)) },
  { name: 'total length beyond 2^53', expect: 'metainfo', why: /total length/, build: edit(v1Multi, (b) => list(b.info, 'files').forEach((f) => f.set('length', 2 ** 52))) },
  { name: 'length missing', expect: 'metainfo', build: edit(v1Single, (b) => b.info.delete('length')) },
  { name: 'files list empty', expect: 'metainfo', fixture: true, build: edit(v1Multi, (b) => b.info.set('files', [])) },
  { name: 'files a dictionary', expect: 'metainfo', build: edit(v1Multi, (b) => b.info.set('files', m({ a: 1 }))) },
  { name: 'files entry an integer', expect: 'metainfo', build: edit(v1Multi, (b) => b.info.set('files', [5])) },
  { name: 'files entry with an empty path', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[0]!.set('path', [])) },
  { name: 'files entry with a string path', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[0]!.set('path', 'a')) },
  { name: 'files entry without length', expect: 'metainfo', build: edit(v1Multi, (b) => list(b.info, 'files')[0]!.delete('length')) },
  { name: 'both length and files', expect: 'metainfo', why: /both length and files/, fixture: true, build: edit(v1Multi, (b) => b.info.set('length', A.length + B.length)) },
  { name: 'duplicate paths', expect: 'unsafe', why: /duplicate/, fixture: true, build: edit(v1Multi, (b) => list(b.info, 'files')[1]!.set('path', ['a'])) },
  {
    name: 'a file and a folder with the same path',
    expect: 'unsafe',
    why: /both a file and a folder/,
    fixture: true,
    build: edit(v1Multi, (b) => list(b.info, 'files')[0]!.set('path', ['sub'])),
  },
  {
    name: 'a folder listed before a file of the same path',
    expect: 'unsafe',
    build: edit(v1Multi, (b) => {
      const files = list(b.info, 'files');
      files[0]!.set('path', ['sub', 'b', 'c']);
    }),
  },

  // --- piece length and versions
  { name: 'piece length 0', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('piece length', 0)) },
  { name: 'negative piece length', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('piece length', -PL)) },
  { name: 'piece length above 256 MiB', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('piece length', 2 ** 29)) },
  { name: 'piece length a string', expect: 'metainfo', build: edit(v1Single, (b) => b.info.set('piece length', '16384')) },
  { name: 'piece length missing', expect: 'metainfo', build: edit(v2, (b) => b.info.delete('piece length')) },
  { name: 'v2 piece length not a power of two', expect: 'metainfo', why: /power of two/, fixture: true, build: edit(v2, (b) => b.info.set('piece length', 3 * PL)) },
  { name: 'v2 piece length below 16 KiB', expect: 'metainfo', why: /power of two/, build: edit(v2, (b) => b.info.set('piece length', PL / 2)) },
  { name: 'hybrid piece length not a power of two', expect: 'metainfo', why: /power of two/, build: edit(hybrid, (b) => b.info.set('piece length', PL + 1)) },
  { name: 'meta version 3', expect: 'metainfo', why: /meta version/, fixture: true, build: edit(v2, (b) => b.info.set('meta version', 3)) },
  { name: 'meta version as a string', expect: 'metainfo', why: /meta version/, build: edit(v2, (b) => b.info.set('meta version', '2')) },
  { name: 'neither pieces nor meta version', expect: 'metainfo', why: /neither/, build: edit(v1Multi, (b) => b.info.delete('pieces')) },

  // --- v2 file tree
  { name: 'file tree missing', expect: 'metainfo', build: edit(v2, (b) => b.info.delete('file tree')) },
  { name: 'file tree empty', expect: 'metainfo', build: edit(v2, (b) => b.info.set('file tree', new Map())) },
  { name: 'file tree a list', expect: 'metainfo', build: edit(v2, (b) => b.info.set('file tree', [])) },
  {
    name: 'file tree node mixing a file and children',
    expect: 'metainfo',
    why: /mixes a file and a folder/,
    fixture: true,
    build: edit(v2, (b) => get(b.info, 'file tree', 'a').set('x', m({ '': m({ length: B.length, 'pieces root': ROOT_B }) }))),
  },
  { name: 'file tree with an empty key at the top', expect: 'metainfo', why: /mixes a file and a folder/, build: edit(v2, (b) => get(b.info, 'file tree').set('', m({ length: 0 }))) },
  { name: 'file tree with an empty folder', expect: 'metainfo', why: /empty folder/, build: edit(v2, (b) => get(b.info, 'file tree').set('sub', new Map())) },
  { name: 'file tree entry an integer', expect: 'metainfo', build: edit(v2, (b) => get(b.info, 'file tree').set('sub', 1)) },
  { name: 'file tree leaf an integer', expect: 'metainfo', build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b').set('', 1)) },
  { name: 'v2 negative file length', expect: 'metainfo', build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').set('length', -1)) },
  { name: 'missing pieces root', expect: 'metainfo', why: /pieces root/, fixture: true, build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').delete('pieces root')) },
  { name: 'pieces root of 31 bytes', expect: 'metainfo', why: /pieces root/, fixture: true, build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').set('pieces root', ROOT_B.subarray(1))) },
  { name: 'pieces root of 33 bytes', expect: 'metainfo', why: /pieces root/, build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').set('pieces root', Buffer.concat([ROOT_B, Buffer.alloc(1)]))) },
  { name: 'pieces root an integer', expect: 'metainfo', why: /pieces root/, build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').set('pieces root', 0)) },
  { name: 'pad file in a v2 file tree', expect: 'metainfo', why: /pad file/, build: edit(v2, (b) => get(b.info, 'file tree', 'sub', 'b', '').set('attr', 'p')) },
  // (Built as text: the encoder itself refuses to nest this deep.)
  { name: 'v2 file tree deeper than the bencode limit', expect: 'metainfo', why: /nesting deeper/, build: () => deepTree(300) },

  // --- piece layers
  { name: 'piece layers a list', expect: 'metainfo', build: edit(v2, (b) => b.top.set('piece layers', [])) },
  { name: 'piece layer of the wrong length', expect: 'metainfo', why: /wrong length/, fixture: true, build: edit(v2, (b) => b.top.set('piece layers', new Map([[ROOT_A.toString('latin1'), LAYER_A.subarray(32)]]))) },
  { name: 'piece layer an integer', expect: 'metainfo', build: edit(v2, (b) => b.top.set('piece layers', new Map([[ROOT_A.toString('latin1'), 1]]))) },
  {
    name: 'piece layer that does not hash to its root',
    expect: 'metainfo',
    why: /does not hash/,
    fixture: true,
    build: edit(v2, (b) => {
      const bad = Buffer.from(LAYER_A);
      bad[40]! ^= 1;
      b.top.set('piece layers', new Map([[ROOT_A.toString('latin1'), bad]]));
    }),
  },
  {
    name: 'piece layer with its two hashes swapped',
    expect: 'metainfo',
    why: /does not hash/,
    build: edit(v2, (b) => b.top.set('piece layers', new Map([[ROOT_A.toString('latin1'), Buffer.concat([LAYER_A.subarray(32), LAYER_A.subarray(0, 32)])]]))),
  },

  // --- hybrid consistency
  { name: 'hybrid v1 file named differently', expect: 'metainfo', why: /does not match the v2 file tree/, fixture: true, build: edit(hybrid, (b) => list(b.info, 'files')[2]!.set('path', ['sub', 'c'])) },
  { name: 'hybrid v1 file of another length', expect: 'metainfo', why: /does not match the v2 file tree/, build: edit(hybrid, (b) => list(b.info, 'files')[2]!.set('length', B.length - 1)) },
  { name: 'hybrid v1 list lacking a file', expect: 'metainfo', why: /v1 list lacks/, build: edit(hybrid, (b) => b.info.set('files', list(b.info, 'files').slice(0, 2))) },
  { name: 'hybrid v1 list with an extra file', expect: 'metainfo', why: /does not match the v2 file tree/, build: edit(hybrid, (b) => list(b.info, 'files').push(m({ length: 0, path: ['zzz'] }))) },
  { name: 'hybrid v1 files in another order', expect: 'metainfo', why: /does not match the v2 file tree/, build: edit(hybrid, (b) => b.info.set('files', [...list(b.info, 'files')].reverse())) },
  {
    name: 'hybrid file not on a piece boundary',
    expect: 'metainfo',
    why: /piece boundary/,
    fixture: true,
    build: edit(hybrid, (b) => {
      const files = list(b.info, 'files');
      b.info.set('files', [files[0]!, files[2]!]);
      b.info.set('pieces', v1Pieces(Buffer.concat([A, B])));
    }),
  },
  {
    name: 'hybrid pad one byte short',
    expect: 'metainfo',
    why: /piece boundary/,
    build: edit(hybrid, (b) => {
      list(b.info, 'files')[1]!.set('length', PAD - 1);
      b.info.set('pieces', v1Pieces(Buffer.concat([A, Buffer.alloc(PAD - 1), B])));
    }),
  },
  {
    // Regression: once accepted, giving one v2 content a second v1 name and other piece numbers.
    name: 'hybrid with an extra whole-piece pad',
    expect: 'metainfo',
    why: /piece boundary/,
    build: edit(hybrid, (b) => {
      const files = list(b.info, 'files');
      b.info.set('files', [files[0]!, files[1]!, m({ length: PL, path: ['.pad', String(PL)], attr: 'p' }), files[2]!]);
      b.info.set('pieces', v1Pieces(Buffer.concat([A, Buffer.alloc(PAD + PL), B])));
    }),
  },
  {
    name: 'hybrid with a leading pad',
    expect: 'metainfo',
    why: /piece boundary/,
    build: edit(hybrid, (b) => {
      const files = list(b.info, 'files');
      b.info.set('files', [m({ length: PL, path: ['.pad', String(PL)], attr: 'p' }), ...files]);
      b.info.set('pieces', v1Pieces(Buffer.concat([Buffer.alloc(PL), A, Buffer.alloc(PAD), B])));
    }),
  },
  {
    name: 'hybrid with a trailing pad beyond the last piece',
    expect: 'metainfo',
    why: /different piece counts/,
    build: edit(hybrid, (b) => {
      const files = list(b.info, 'files');
      b.info.set('files', [...files, m({ length: PL, path: ['.pad', String(PL)], attr: 'p' })]);
      b.info.set('pieces', v1Pieces(Buffer.concat([A, Buffer.alloc(PAD), B, Buffer.alloc(PL)])));
    }),
  },
  {
    name: 'hybrid single file with a v1 name unlike its tree',
    expect: 'metainfo',
    why: /does not match the v2 file tree/,
    build: () => {
      const b = withTop(m({ name: 'a', 'piece length': PL, 'meta version': 2, 'file tree': m({ b: get(fileTree(), 'a') }), length: A.length, pieces: v1Pieces(A) }), { 'piece layers': pieceLayers() });
      return enc(b);
    },
  },

  // --- bencode and top-level structure
  { name: 'truncated file', expect: 'metainfo', why: /end of input/, fixture: true, build: () => enc(hybrid()).subarray(0, 200) },
  { name: 'deeply nested list', expect: 'metainfo', why: /nesting deeper/, build: () => Buffer.from('l'.repeat(100_000)) },
  { name: 'deeply nested list inside info', expect: 'metainfo', why: /nesting deeper/, build: () => Buffer.from(`d4:info${'l'.repeat(100_000)}`) },
  { name: 'deeply nested closed lists', expect: 'metainfo', why: /nesting deeper/, fixture: true, build: () => Buffer.from(`d4:info${'l'.repeat(300)}${'e'.repeat(300)}e`) },
  { name: 'huge declared string length', expect: 'metainfo', why: /string longer/, build: () => Buffer.from('d4:info99999999999:') },
  { name: 'trailing data', expect: 'metainfo', why: /trailing/, build: () => Buffer.concat([enc(v1Single()), Buffer.from('x')]) },
  { name: 'top-level keys unsorted', expect: 'metainfo', why: /not sorted/, build: () => Buffer.from(`d4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}e1:ai1ee`) },
  { name: 'info keys unsorted', expect: 'metainfo', why: /not sorted/, build: () => Buffer.from(`d4:infod4:name1:a6:lengthi1e12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}ee`) },
  { name: 'empty input', expect: 'metainfo', build: () => Buffer.alloc(0) },
  { name: 'top level a list', expect: 'metainfo', build: () => bencode([m({ info: v1Single().info })]) },
  { name: 'info missing', expect: 'metainfo', build: edit(v1Single, (b) => b.top.delete('info')) },
  { name: 'info a list', expect: 'metainfo', build: edit(v1Single, (b) => b.top.set('info', [])) },
  { name: 'info a string', expect: 'metainfo', build: edit(v1Single, (b) => b.top.set('info', 'info')) },
];

function assertRejected(input: Uint8Array, expect: Expect, why?: RegExp): void {
  assert.throws(
    () => parseTorrent(input),
    (e: unknown) => {
      if (expect === 'unsafe') assert.ok(e instanceof UnsafePathError, `expected UnsafePathError, got ${String(e)}`);
      else assert.ok(e instanceof MetainfoError, `expected MetainfoError, got ${String(e)}`);
      // One line, as the CLI shows it.
      assert.ok(!(e as Error).message.includes('\n'));
      if (why) assert.match((e as Error).message, why);
      return true;
    },
  );
}

const slug = (s: string) =>
  s
    .replace(/\.\./g, ' dotdot ')
    .replace(/\./g, ' dot ')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
const fixtureName = (c: Case) => `${c.expect}--${slug(c.name)}.torrent`;

describe('parseTorrent on hostile input', () => {
  it('accepts the valid bases the cases start from', () => {
    assert.equal(parseTorrent(enc(v1Single())).version, 'v1');
    assert.equal(parseTorrent(enc(v1Multi())).version, 'v1');
    const t2 = parseTorrent(enc(v2()));
    assert.equal(t2.version, 'v2');
    assert.equal(t2.pieceLayers.size, 1);
    const h = parseTorrent(enc(hybrid()));
    assert.equal(h.version, 'hybrid');
    assert.deepEqual(
      h.files.map((f) => [f.path.join('/'), f.offset, f.pad]),
      [
        ['a', 0, false],
        [`.pad/${PAD}`, A.length, true],
        ['sub/b', 2 * PL, false],
      ],
    );
    assert.deepEqual(h.files[0]!.piecesRoot, hashPair(LAYER_A.subarray(0, 32), LAYER_A.subarray(32)));
  });

  it('has unique case names', () => {
    assert.equal(new Set(cases.map((c) => slug(c.name))).size, cases.length);
  });

  for (const c of cases) {
    it(`rejects ${c.name} (${c.expect === 'unsafe' ? 'UnsafePathError' : 'MetainfoError'})`, () => {
      assertRejected(c.build(), c.expect, c.why);
    });
  }

  it('tolerates malformed advisory fields outside the info dictionary', () => {
    const b = v1Single();
    b.top.set('announce', 5);
    b.top.set('announce-list', [7, ['udp://ok.example:1', 3], 'x']);
    b.top.set('url-list', m({ a: 1 }));
    b.top.set('comment', Buffer.from([0xff]));
    b.top.set('creation date', 'yesterday');
    const t = parseTorrent(enc(b));
    assert.deepEqual(t.trackers, [['udp://ok.example:1']]);
    assert.deepEqual(t.webSeeds, []);
    assert.equal(t.comment, null);
    assert.equal(t.creationDate, null);
  });

  it('accepts a file tree nested as deep as the bencode limit allows', () => {
    const t = parseTorrent(deepTree(200));
    assert.equal(t.files.length, 1);
    assert.equal(t.files[0]!.path.length, 200);
  });

  it('ignores piece layers for unknown roots and one-piece files', () => {
    const b = v2();
    get(b.top, 'piece layers').set(Buffer.alloc(32, 9).toString('latin1'), Buffer.alloc(5));
    get(b.top, 'piece layers').set(ROOT_B.toString('latin1'), Buffer.alloc(32));
    const t = parseTorrent(enc(b));
    assert.deepEqual([...t.pieceLayers.keys()], [ROOT_A.toString('hex')]);
  });
});

describe('hostile regression fixtures', () => {
  const fixtureCases = cases.filter((c) => c.fixture);

  if (process.env.SEEDBANK_WRITE_FIXTURES === '1') {
    mkdirSync(FIXTURES, { recursive: true });
    for (const c of fixtureCases) writeFileSync(FIXTURES + fixtureName(c), c.build());
  }

  it('keeps every fixture case on disk, byte for byte', () => {
    for (const c of fixtureCases) {
      const onDisk = readFileSync(FIXTURES + fixtureName(c));
      assert.deepEqual(onDisk, c.build(), `${fixtureName(c)} differs from its case; regenerate the fixtures`);
    }
  });

  it('rejects every file in test/fixtures/hostile', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.torrent'));
    assert.ok(files.length >= fixtureCases.length);
    for (const f of files) {
      const expect = f.split('--')[0];
      assert.ok(expect === 'unsafe' || expect === 'metainfo', `fixture ${f} does not name its expected error`);
      const input = readFileSync(FIXTURES + f);
      assert.ok(input.length <= 4096, `fixture ${f} is not tiny`);
      assertRejected(input, expect);
    }
  });
});

describe('parseTorrent on mutated torrents', () => {
  const bases = [enc(v1Single()), enc(v1Multi()), enc(v2()), enc(hybrid())];
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x39, 0x3a, 0x64, 0x65, 0x69, 0x6c, 0xff) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

  function apply(input: Buffer, mu: Mutation): Buffer {
    const at = mu.at % (input.length + (mu.kind === 'insert' ? 1 : 0));
    switch (mu.kind) {
      case 'flip': {
        const out = Buffer.from(input);
        out[at]! ^= 1 << mu.bit;
        return out;
      }
      case 'set': {
        const out = Buffer.from(input);
        out[at] = mu.byte;
        return out;
      }
      case 'insert':
        return Buffer.concat([input.subarray(0, at), Buffer.from([mu.byte]), input.subarray(at)]);
      case 'delete':
        return Buffer.concat([input.subarray(0, at), input.subarray(at + 1)]);
    }
  }

  it('either parses or throws MetainfoError/UnsafePathError, never anything else', () => {
    let parsed = 0;
    fc.assert(
      fc.property(fc.constantFrom(...bases), fc.array(mutation, { minLength: 1, maxLength: 3 }), (base, mutations) => {
        const input = mutations.reduce(apply, base);
        try {
          parseTorrent(input);
          parsed++;
        } catch (e) {
          assert.ok(e instanceof MetainfoError || e instanceof UnsafePathError, `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 400 },
    );
    assert.ok(parsed > 0, 'no mutation was accepted; the property tested only rejections');
  });
});
