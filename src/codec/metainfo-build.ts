/**
 * Metainfo encoding: builds the bytes of a v1, v2 or hybrid .torrent from a hashed layout.
 * Pure. The output is what libtorrent 2.0.8 writes for the same files and piece length (same
 * info dictionary, hence the same info hashes), plus the optional fields the caller asks for.
 */
import { type BEncodable, bencode, utf8Key } from './bencode.js';
import { type Layout, type TorrentVersion } from './layout.js';
import { hex } from './metainfo.js';

export interface BuildInput {
  version: TorrentVersion;
  name: string;
  layout: Layout;
  singleFile: boolean;
  /** v1 piece hashes (20 bytes each) for v1 and hybrid. */
  pieces: Buffer | null;
  /** v2 piece layers by pieces root (hex), for files longer than one piece. */
  pieceLayers: Map<string, Buffer>;
  trackers?: string[][];
  webSeeds?: string[];
  private?: boolean;
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch; omitted when undefined (reproducible torrents). */
  creationDate?: number;
}

type Dict = Map<string, BEncodable | undefined>;

function attrOf(pad: boolean, attr: string): string | undefined {
  const a = (pad ? 'p' : '') + attr;
  return a.length ? a : undefined;
}

/** The info dictionary as a bencodable map. */
export function buildInfo(input: BuildInput): Dict {
  const { layout, version } = input;
  const info: Dict = new Map();
  info.set('name', input.name);
  info.set('piece length', layout.pieceLength);
  if (input.private) info.set('private', 1);
  if (version !== 'v1') {
    info.set('meta version', 2);
    info.set('file tree', buildFileTree(input));
  }
  if (version !== 'v2') {
    if (!input.pieces) throw new Error('v1 piece hashes missing');
    info.set('pieces', input.pieces);
    if (input.singleFile) {
      const f = layout.files[0]!;
      info.set('length', f.length);
      info.set('attr', attrOf(false, f.attr));
    } else {
      info.set(
        'files',
        layout.files.map((f) => {
          const m: Dict = new Map();
          m.set('length', f.length);
          m.set('path', [...f.path]);
          m.set('attr', attrOf(f.pad, f.attr));
          return m;
        }),
      );
    }
  }
  return info;
}

function buildFileTree(input: BuildInput): Dict {
  const tree: Dict = new Map();
  for (const f of input.layout.files) {
    if (f.pad) continue;
    let node = tree;
    for (const c of f.path) {
      const k = utf8Key(c);
      let child = node.get(k) as Dict | undefined;
      if (!child) {
        child = new Map();
        node.set(k, child);
      }
      node = child;
    }
    const leaf: Dict = new Map();
    leaf.set('length', f.length);
    if (f.length > 0) {
      if (!f.piecesRoot) throw new Error(`pieces root missing for ${f.path.join('/')}`);
      leaf.set('pieces root', f.piecesRoot);
    }
    leaf.set('attr', attrOf(false, f.attr));
    node.set('', leaf);
  }
  return tree;
}

/** The whole .torrent file. */
export function buildTorrent(input: BuildInput): Buffer {
  const top: Dict = new Map();
  const trackers = input.trackers ?? [];
  if (trackers.length > 0) {
    top.set('announce', trackers[0]![0]);
    if (trackers.length > 1 || trackers[0]!.length > 1) top.set('announce-list', trackers);
  }
  if (input.comment) top.set('comment', input.comment);
  if (input.createdBy) top.set('created by', input.createdBy);
  if (input.creationDate !== undefined) top.set('creation date', input.creationDate);
  top.set('info', buildInfo(input));
  if (input.version !== 'v1') {
    const layers: Dict = new Map();
    for (const f of input.layout.files) {
      if (f.pad || !f.piecesRoot || f.length <= input.layout.pieceLength) continue;
      const layer = input.pieceLayers.get(hex(f.piecesRoot));
      if (!layer) throw new Error(`piece layer missing for ${f.path.join('/')}`);
      layers.set(f.piecesRoot.toString('latin1'), layer);
    }
    top.set('piece layers', layers);
  }
  const ws = input.webSeeds ?? [];
  if (ws.length === 1) top.set('url-list', ws[0]);
  else if (ws.length > 1) top.set('url-list', ws);
  return bencode(top);
}
