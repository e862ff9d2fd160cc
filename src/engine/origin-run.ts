/**
 * How a node asks an origin for work: runs of consecutive pieces sized to the connection's rate.
 * Pure picking on the picker, shared by the HTTP web seed (web-seed.ts) and the swarm simulator
 * (src/sim), so the simulator exercises the same rule the real client runs.
 */
import { type BlockRequest, type PiecePicker } from './picker.js';

/** A run lasts about this long at the connection's last measured rate. */
export const RUN_SECONDS = 0.5;
/** The first run of a connection (no rate measured yet). */
export const FIRST_RUN_BYTES = 1024 * 1024;

/**
 * Bytes to ask for in one run: about RUN_SECONDS of this connection's rate, at least a piece.
 * Long runs cost fewer requests; short ones keep pieces moving (a piece is shareable only once
 * it is complete) and keep a slow origin from holding many pieces at once.
 */
export function runLimit(rate: number, pieceLength: number, maxBytes: number): number {
  const want = rate > 0 ? rate * RUN_SECONDS : FIRST_RUN_BYTES;
  return Math.max(pieceLength, Math.min(maxBytes, want));
}

export interface RunShape {
  numPieces: number;
  pieceLength: number;
  blockSize?: number;
}

/**
 * Blocks of one piece the picker chooses (rarest first among those `accept` allows), then the
 * pieces after it while they are free and allowed, up to `limit` bytes; sorted by offset.
 */
export function pickRun(picker: PiecePicker, key: string, shape: RunShape, limit: number, accept: (index: number) => boolean): BlockRequest[] {
  const perPiece = Math.ceil(shape.pieceLength / (shape.blockSize ?? 16384));
  const first = picker.pick(key, perPiece, { accept });
  if (first.length === 0) return [];
  const reqs = [...first];
  let bytes = first.reduce((n, r) => n + r.length, 0);
  let next = Math.max(...first.map((r) => r.index)) + 1;
  while (bytes + shape.pieceLength <= limit && next < shape.numPieces && accept(next)) {
    const more = picker.pickPiece(key, next, perPiece);
    if (more.length === 0 || more[0]!.begin !== 0) {
      for (const r of more) picker.requestFailed(key, r);
      break;
    }
    reqs.push(...more);
    bytes += more.reduce((n, r) => n + r.length, 0);
    next++;
  }
  reqs.sort((a, b) => a.index - b.index || a.begin - b.begin);
  return reqs;
}
