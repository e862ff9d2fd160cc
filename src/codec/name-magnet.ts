/**
 * BEP 46 dataset names as magnet links: `magnet:?xs=urn:btpk:<public key, 64 hex>&s=<salt, hex>`.
 * The name resolves, through a BEP 44 mutable item signed by that key, to the info hash of the
 * dataset's current version. Pure.
 */
import { MetainfoError } from '../errors.js';

export interface NameMagnet {
  publicKey: Buffer;
  /** Empty for a name without salt. */
  salt: Buffer;
}

export function isNameMagnet(uri: string): boolean {
  return /^magnet:\?/i.test(uri) && /[?&]xs=urn(:|%3a)btpk(:|%3a)/i.test(uri);
}

export function parseNameMagnet(uri: string): NameMagnet {
  const bad = (why: string): never => {
    throw new MetainfoError(`invalid name magnet link: ${why}`, 'MAGNET_INVALID');
  };
  if (!/^magnet:\?/i.test(uri)) bad('does not start with magnet:?');
  let publicKey: Buffer | null = null;
  let salt = Buffer.alloc(0);
  for (const part of uri.slice(uri.indexOf('?') + 1).split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).toLowerCase();
    let value = '';
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      bad(`parameter ${key} is not valid percent-encoding`);
    }
    if (key === 'xs' && value.toLowerCase().startsWith('urn:btpk:')) {
      const hex = value.slice(9);
      if (!/^[0-9a-f]{64}$/i.test(hex)) bad('btpk is not a 32-byte public key in hex');
      publicKey = Buffer.from(hex, 'hex');
    } else if (key === 's') {
      if (!/^([0-9a-f]{2}){0,64}$/i.test(value)) bad('s is not a salt of at most 64 bytes in hex');
      salt = Buffer.from(value, 'hex');
    }
  }
  if (!publicKey) return bad('no xs=urn:btpk: public key');
  return { publicKey, salt };
}

export function formatNameMagnet(n: NameMagnet): string {
  return `magnet:?xs=urn:btpk:${n.publicKey.toString('hex')}${n.salt.length ? `&s=${n.salt.toString('hex')}` : ''}`;
}
