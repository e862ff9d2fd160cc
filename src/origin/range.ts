/**
 * The `Range` request header (RFC 9110 §14), as a static origin answers it: one byte range or none.
 *
 * For: src/origin/http-origin.ts. Pure: no I/O.
 * Not for: multipart/byteranges. A request for several ranges gets the whole file, as S3 and many
 * CDNs do; a client that asked for several ranges must accept a 200 anyway (RFC 9110 §14.2 lets a
 * server ignore `Range`).
 */

export type RangeAnswer =
  /** No usable `Range`: send the whole file with 200. */
  | { kind: 'whole' }
  /** Send bytes `start..end` (inclusive) with 206. */
  | { kind: 'partial'; start: number; end: number }
  /** A well-formed range that lies past the end: 416, with a `Content-Range` giving only the size. */
  | { kind: 'unsatisfiable' };

const SINGLE = /^(\d*)-(\d*)$/;

/**
 * Decides how to answer `header` for a file of `size` bytes. A header that does not parse (another
 * unit, `5-3`, `-`, letters) is ignored rather than refused, as RFC 9110 §14.2 says a server may.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'whole' };
  const spec = header.slice(eq + 1).trim();
  if (spec.includes(',')) return { kind: 'whole' };
  const m = SINGLE.exec(spec);
  if (!m) return { kind: 'whole' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // Suffix form `-n`: the last n bytes. `-0` asks for nothing, so nothing can satisfy it.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'whole' }; // `5-3` is not a range at all
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
