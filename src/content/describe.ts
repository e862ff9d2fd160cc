/**
 * A torrent or magnet link as a plain, JSON-ready object: what `seedbank info --json` and
 * `create --json` print, and what the HTTP API will serve. Keys are stable; new ones may be added.
 */
import { dataLength } from '../codec/layout.js';
import { type Magnet, createMagnet, magnetOf } from '../codec/magnet.js';
import { type Metainfo } from '../codec/metainfo.js';

export interface TorrentDescription {
  name: string | null;
  version: 'v1' | 'v2' | 'hybrid' | null;
  pieceLength: number | null;
  /** Bytes of real data, pad files excluded. */
  totalLength: number | null;
  numPieces: number | null;
  /** 40 hex digits, or null for a v2-only torrent. */
  infoHashV1: string | null;
  /** 64 hex digits, or null for a v1-only torrent. */
  infoHashV2: string | null;
  /** The v2 info hash cut to 20 bytes, as trackers, the DHT and handshakes use it. */
  infoHashV2Truncated: string | null;
  private: boolean | null;
  trackers: string[][];
  webSeeds: string[];
  comment: string | null;
  createdBy: string | null;
  creationDate: number | null;
  magnet: string;
  /** Real files in torrent order, pad files excluded; null when only a magnet link is known. */
  files: Array<{ path: string; length: number; piecesRoot: string | null; attr: string }> | null;
  padFiles: number | null;
}

export function describeTorrent(t: Metainfo): TorrentDescription {
  const real = t.files.filter((f) => !f.pad);
  return {
    name: t.name,
    version: t.version,
    pieceLength: t.pieceLength,
    totalLength: dataLength(t),
    numPieces: t.numPieces,
    infoHashV1: t.infoHashV1?.toString('hex') ?? null,
    infoHashV2: t.infoHashV2?.toString('hex') ?? null,
    infoHashV2Truncated: t.infoHashV2?.subarray(0, 20).toString('hex') ?? null,
    private: t.private,
    trackers: t.trackers,
    webSeeds: t.webSeeds,
    comment: t.comment,
    createdBy: t.createdBy,
    creationDate: t.creationDate,
    magnet: magnetOf(t),
    files: real.map((f) => ({ path: f.path.join('/'), length: f.length, piecesRoot: f.piecesRoot?.toString('hex') ?? null, attr: f.attr })),
    // A v2 info dictionary has no pad files; the layout's are synthetic (piece numbering only).
    padFiles: t.version === 'v2' ? 0 : t.files.length - real.length,
  };
}

export function describeMagnet(m: Magnet): TorrentDescription {
  return {
    name: m.name,
    version: m.infoHashV1 && m.infoHashV2 ? 'hybrid' : m.infoHashV2 ? 'v2' : 'v1',
    pieceLength: null,
    totalLength: null,
    numPieces: null,
    infoHashV1: m.infoHashV1?.toString('hex') ?? null,
    infoHashV2: m.infoHashV2?.toString('hex') ?? null,
    infoHashV2Truncated: m.infoHashV2?.subarray(0, 20).toString('hex') ?? null,
    private: null,
    trackers: m.trackers.map((t) => [t]),
    webSeeds: m.webSeeds,
    comment: null,
    createdBy: null,
    creationDate: null,
    magnet: createMagnet(m),
    files: null,
    padFiles: null,
  };
}
