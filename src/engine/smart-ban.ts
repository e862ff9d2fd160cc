/**
 * Smart ban: pinning bad data on the exact 16 KiB block and its sender.
 *
 * When a piece assembled from several peers fails its hash check, nobody can tell which block was
 * bad. We keep the failed copy and who sent each block; when the piece later passes, every block
 * that differs from the verified copy was bad, and its sender is guilty, while the others are
 * cleared. Works for v1, v2 and hybrid alike (libtorrent does the same for v1). Pure.
 */
export const BLOCK = 16384;

export interface Verdict {
  /** Peers that sent at least one block that differs from the verified data. */
  guilty: string[];
  /** Peers that contributed only good blocks to the failed copy. */
  cleared: string[];
}

export class SmartBan {
  private readonly suspects = new Map<number, { data: Buffer; senders: string[] }>();

  /** @param maxPieces failed copies kept at once (memory bound). @default 16 */
  constructor(private readonly maxPieces = 16) {}

  get size(): number {
    return this.suspects.size;
  }

  /** Whether piece `index` failed with several senders and waits for a verified copy. */
  has(index: number): boolean {
    return this.suspects.has(index);
  }

  /** A piece failed; `senders[b]` sent block b. Keeps a copy if more than one peer took part. */
  failed(index: number, data: Uint8Array, senders: readonly string[]): void {
    if (new Set(senders.filter(Boolean)).size < 2) return;
    if (this.suspects.has(index) || this.suspects.size >= this.maxPieces) return;
    this.suspects.set(index, { data: Buffer.from(data), senders: [...senders] });
  }

  /** The piece passed with `good`: who was guilty in its failed copy, if we kept one. */
  passed(index: number, good: Uint8Array): Verdict | null {
    const s = this.suspects.get(index);
    if (!s) return null;
    this.suspects.delete(index);
    const guilty = new Set<string>();
    const blocks = Math.ceil(good.length / BLOCK);
    for (let b = 0; b < blocks; b++) {
      const from = b * BLOCK;
      const to = Math.min(good.length, from + BLOCK);
      if (s.senders[b] && Buffer.compare(good.subarray(from, to), s.data.subarray(from, to)) !== 0) guilty.add(s.senders[b]!);
    }
    const cleared = [...new Set(s.senders.filter((k) => k && !guilty.has(k)))];
    return { guilty: [...guilty], cleared };
  }
}
