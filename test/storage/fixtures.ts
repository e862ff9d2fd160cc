/**
 * Layouts and expected bytes for the storage tests: v1 with pieces that span files, hybrid with
 * pad files, single-file, and many tiny files; plus a Metainfo around a planned layout (storage
 * needs only the layout, name and singleFile; hashes are left empty).
 */
import { type Layout, type PlannedFile, type TorrentVersion, planLayout } from '../../src/codec/layout.js';
import { type Metainfo } from '../../src/codec/metainfo.js';
import { deterministicBytes } from '../helpers/dataset.js';
export { seededRandom as prng } from '../../src/sim/clock.js';

export const P = 16384;

export function fakeMetainfo(layout: Layout, name: string, opts: { singleFile?: boolean; version?: TorrentVersion } = {}): Metainfo {
  return {
    ...layout,
    version: opts.version ?? 'v1',
    name,
    singleFile: opts.singleFile ?? false,
    pieces: null,
    pieceLayers: new Map(),
    infoHashV1: Buffer.alloc(20, 7),
    infoHashV2: null,
    private: false,
    trackers: [],
    webSeeds: [],
    comment: null,
    createdBy: null,
    creationDate: null,
    infoBytes: Buffer.alloc(0),
  };
}

const MIXED: PlannedFile[] = [
  { path: ['a.bin'], length: 5000 },
  { path: ['empty'], length: 0 },
  { path: ['sub', 'b.bin'], length: 40000 },
  { path: ['sub', 'c.bin'], length: 1 },
  { path: ['sub', 'd', 'e.bin'], length: 2 * P },
  { path: ['z.bin'], length: 20000 },
];

export interface Case {
  label: string;
  meta: Metainfo;
}

/** The layouts every backend must handle. */
export function cases(): Case[] {
  const tiny: PlannedFile[] = Array.from({ length: 40 }, (_, i) => ({ path: ['tiny', `f${String(i).padStart(2, '0')}`], length: 700 + ((i * 37) % 900) }));
  return [
    { label: 'v1, pieces spanning files', meta: fakeMetainfo(planLayout(MIXED, P, 'v1'), 'mixed') },
    { label: 'hybrid, with pad files', meta: fakeMetainfo(planLayout(MIXED, P, 'hybrid'), 'padded', { version: 'hybrid' }) },
    { label: 'single file', meta: fakeMetainfo(planLayout([{ path: ['single.bin'], length: 3 * P + 1234 }], P, 'v1'), 'single.bin', { singleFile: true }) },
    { label: 'v1, many tiny files per piece', meta: fakeMetainfo(planLayout(tiny, P, 'v1'), 'tiny') },
  ];
}

/** The piece stream the storage should hold: each file's deterministic bytes, pads as zeros. */
export function streamOf(layout: Layout): Buffer {
  const out = Buffer.alloc(layout.totalLength);
  for (const f of layout.files) if (!f.pad) deterministicBytes(f.path.join('/'), f.length).copy(out, f.offset);
  return out;
}

export function pieceOf(layout: Layout, stream: Buffer, index: number): Buffer {
  const start = index * layout.pieceLength;
  return stream.subarray(start, Math.min(start + layout.pieceLength, layout.totalLength));
}

/** What a careless writer might pass: the piece with junk where the pads are (it must be dropped). */
export function pieceWithJunkPads(layout: Layout, stream: Buffer, index: number): Buffer {
  const piece = Buffer.from(pieceOf(layout, stream, index));
  const start = index * layout.pieceLength;
  for (const f of layout.files) {
    if (!f.pad) continue;
    const from = Math.max(f.offset, start);
    const to = Math.min(f.offset + f.length, start + piece.length);
    if (from < to) piece.fill(0xaa, from - start, to - start);
  }
  return piece;
}

export function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
