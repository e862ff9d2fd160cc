/**
 * Magnet links (BEP 9, BEP 52 `btmh`, BEP 53 `so`): parse and create. Pure.
 *
 * Supported: `xt=urn:btih:` (40 hex or 32 base32), `xt=urn:btmh:1220<64 hex>` (SHA-256 multihash),
 * `dn`, `tr`, `ws`, `x.pe`, `so`. Unknown parameters are kept in `extra` and ignored.
 */
import { MetainfoError } from '../errors.js';
import { type Metainfo } from './metainfo.js';

export interface Magnet {
  infoHashV1: Buffer | null;
  infoHashV2: Buffer | null;
  name: string | null;
  trackers: string[];
  webSeeds: string[];
  /** x.pe peer addresses, "host:port" or "[v6]:port". */
  peers: string[];
  /** BEP 53 file indices to download, as inclusive ranges. */
  select: Array<[number, number]> | null;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(s: string): Buffer {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s.toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new MetainfoError(`invalid magnet link: bad base32 in btih`, 'MAGNET_INVALID');
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function bad(msg: string): never {
  throw new MetainfoError(`invalid magnet link: ${msg}`, 'MAGNET_INVALID');
}

export function isMagnet(s: string): boolean {
  return /^magnet:\?/i.test(s);
}

export function parseMagnet(uri: string): Magnet {
  if (!isMagnet(uri)) bad('does not start with magnet:?');
  const m: Magnet = { infoHashV1: null, infoHashV2: null, name: null, trackers: [], webSeeds: [], peers: [], select: null };
  for (const part of uri.slice(uri.indexOf('?') + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    let value: string;
    try {
      value = decodeURIComponent((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      bad(`parameter ${key} is not valid percent-encoding`);
    }
    const k = key.replace(/\.\d+$/, ''); // xt.1, tr.2 ... (BEP 9 allows numbered keys)
    if (k === 'xt') parseXt(m, value);
    else if (k === 'dn') m.name = value;
    else if (k === 'tr') m.trackers.push(value);
    else if (k === 'ws') m.webSeeds.push(value);
    else if (k === 'x.pe') m.peers.push(value);
    else if (k === 'so') m.select = parseSelect(value);
  }
  if (!m.infoHashV1 && !m.infoHashV2) bad('no urn:btih or urn:btmh topic');
  return m;
}

function parseXt(m: Magnet, value: string): void {
  const v = value.toLowerCase();
  if (v.startsWith('urn:btih:')) {
    const h = value.slice(9);
    if (/^[0-9a-f]{40}$/i.test(h)) m.infoHashV1 = Buffer.from(h, 'hex');
    else if (/^[a-z2-7]{32}$/i.test(h)) m.infoHashV1 = base32Decode(h);
    else bad('btih is neither 40 hex digits nor 32 base32 characters');
  } else if (v.startsWith('urn:btmh:')) {
    const h = v.slice(9);
    if (!/^1220[0-9a-f]{64}$/.test(h)) bad('btmh is not a SHA-256 multihash (1220 + 64 hex digits)');
    m.infoHashV2 = Buffer.from(h.slice(4), 'hex');
  }
}

function parseSelect(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const item of s.split(',')) {
    const r = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(item.trim());
    if (!r) bad(`so=${s} is not a list of indices and ranges`);
    const a = Number(r[1]);
    const b = r[2] === undefined ? a : Number(r[2]);
    if (b < a) bad(`so range ${item} is reversed`);
    out.push([a, b]);
  }
  return out;
}

export interface MagnetInput {
  infoHashV1?: Buffer | null;
  infoHashV2?: Buffer | null;
  name?: string | null;
  trackers?: string[];
  webSeeds?: string[];
  peers?: string[];
  select?: Array<[number, number]> | null;
}

// Keeps ':' '/' readable in tracker URLs as most clients do; everything else is escaped.
function enc(s: string): string {
  if (!s.isWellFormed()) throw new MetainfoError('magnet link text is not valid Unicode', 'MAGNET_INVALID');
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%2F/gi, '/');
}

export function createMagnet(m: MagnetInput): string {
  const parts: string[] = [];
  if (m.infoHashV1) parts.push(`xt=urn:btih:${m.infoHashV1.toString('hex')}`);
  if (m.infoHashV2) parts.push(`xt=urn:btmh:1220${m.infoHashV2.toString('hex')}`);
  if (parts.length === 0) throw new MetainfoError('a magnet link needs an info hash', 'MAGNET_INVALID');
  if (m.name) parts.push(`dn=${enc(m.name)}`);
  for (const t of m.trackers ?? []) parts.push(`tr=${enc(t)}`);
  for (const w of m.webSeeds ?? []) parts.push(`ws=${enc(w)}`);
  for (const p of m.peers ?? []) parts.push(`x.pe=${enc(p)}`);
  if (m.select && m.select.length) parts.push(`so=${m.select.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')}`);
  return `magnet:?${parts.join('&')}`;
}

/** The magnet link of a parsed torrent: both hashes, name, trackers and web seeds. */
export function magnetOf(t: Metainfo): string {
  return createMagnet({
    infoHashV1: t.infoHashV1,
    infoHashV2: t.infoHashV2,
    name: t.name,
    trackers: t.trackers.flat(),
    webSeeds: t.webSeeds,
  });
}
