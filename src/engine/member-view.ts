/**
 * The seedbank nodes of a swarm that fetch from the origin, as far as this node can see: those it
 * is connected to, and those its seedbank neighbours report being connected to (`sb_members`,
 * two hops). Origin ownership (origin-rules.ts) is decided among these: with neighbours alone a
 * large swarm has one "highest score" per neighbourhood, so a thousand nodes with fifty
 * connections each would fetch every piece about twenty times; two hops cover nearly the whole
 * swarm up to a few thousand nodes, and each piece is fetched about once.
 *
 * Bounded: entries expire when no neighbour has reported them for `ttlMs`, and at most `max` are
 * kept (the oldest go first).
 */
export const MEMBER_TTL_MS = 45_000;
export const MAX_MEMBERS = 2000;
/**
 * When a node reports its neighbours to a neighbour: as the connection opens, again this long
 * after (a young swarm's connections form in its first fraction of a second), then every MEMBERS_INTERVAL_MS.
 */
export const MEMBERS_SECOND_REPORT_MS = 500;
export const MEMBERS_INTERVAL_MS = 15_000;
/** Ids in one report. */
export const MAX_REPORTED_MEMBERS = 100;

export class MemberView {
  private readonly seen = new Map<string, { id: Uint8Array; at: number }>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = MEMBER_TTL_MS,
    private readonly max = MAX_MEMBERS,
  ) {}

  /** A neighbour says these nodes fetch from the origin (ids of 20 bytes). */
  report(ids: readonly Uint8Array[]): void {
    const t = this.now();
    for (const id of ids.slice(0, MAX_REPORTED_MEMBERS)) {
      if (id.length !== 20) continue;
      const hex = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
      this.seen.delete(hex); // re-inserted last: the map stays in order of last report
      this.seen.set(hex, { id: Uint8Array.from(id), at: t });
    }
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
  }

  /** Reported ids still fresh, without those in `exclude` (hex: ourselves, known seeds). */
  ids(exclude: ReadonlySet<string>): Uint8Array[] {
    const t = this.now();
    const out: Uint8Array[] = [];
    for (const [hex, e] of this.seen) {
      if (t - e.at > this.ttlMs) this.seen.delete(hex);
      else if (!exclude.has(hex)) out.push(e.id);
    }
    return out;
  }

  get size(): number {
    return this.seen.size;
  }
}
