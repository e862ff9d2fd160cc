/**
 * How many block requests to keep outstanding at a peer (pipelining): about one second of what
 * the peer sends us, at least 16, within the queue the peer says it keeps (`reqq`), and refilled
 * in batches. Shared by the torrent and the swarm simulator (src/sim).
 */

/** A peer that sends no block this long while we wait for some is snubbed (its requests go elsewhere). */
export const SNUB_MS = 30_000;

/** Pieces a peer has that the picker wants: interest holds while this is above zero. */
export function countWanted(picker: { wants(i: number): boolean; wantedRemaining(): number }, c: { peerHasAll: boolean; have: { indices(): Iterable<number> } }): number {
  if (c.peerHasAll) return picker.wantedRemaining();
  let n = 0;
  for (const i of c.have.indices()) if (picker.wants(i)) n++;
  return n;
}

/** Requests to keep queued at a peer: about one second of its rate, within its `reqq`. */
export function queueDepth(rateBytesPerSecond: number, reqq: number, snubbed = false): number {
  if (snubbed) return 1;
  const perSecond = rateBytesPerSecond / 16384;
  return Math.max(16, Math.min(reqq, 1000, Math.ceil(perSecond)));
}

/**
 * How many new requests to send when `outstanding` are queued and the target is `depth`: none
 * until a batch is worth a message (one write of many requests, not one per block received).
 */
export function requestsToAdd(outstanding: number, depth: number): number {
  const want = depth - outstanding;
  if (want <= 0 || (outstanding > 0 && want < Math.min(16, depth / 2))) return 0;
  return want;
}
