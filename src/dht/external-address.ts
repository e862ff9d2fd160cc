/**
 * Our external address as other DHT nodes see it (BEP 42's `ip` key of responses), by a vote.
 *
 * For: deciding when enough distinct nodes agree on our address to derive a BEP 42 node id from
 * it. Not for: the id itself (codec/dht-id.ts) or when to switch (the DHT node). Pure.
 *
 * One responder could lie about our address to push us to an id of its choosing, so one report
 * proves nothing: only the address that at least `quorum` distinct responders report, among the
 * last `window` of them, and that more report than any other, wins. A responder is its host, not
 * host and port, so that one machine with many ports casts one vote; its newer report replaces
 * its older one.
 */

/** Distinct responders whose reports are remembered. */
export const DEFAULT_VOTE_WINDOW = 10;
/** Responders that must agree before an address is believed. */
export const DEFAULT_VOTE_QUORUM = 3;

export class ExternalAddressVote {
  private readonly window: number;
  private readonly quorum: number;
  /** Responder host -> the address it reported; Map order is oldest report first. */
  private readonly votes = new Map<string, string>();
  private winner: string | null = null;

  constructor(opts: { window?: number; quorum?: number } = {}) {
    this.window = opts.window ?? DEFAULT_VOTE_WINDOW;
    this.quorum = opts.quorum ?? DEFAULT_VOTE_QUORUM;
    if (!Number.isInteger(this.window) || this.window < 1) throw new RangeError(`window ${this.window} is not a positive integer`);
    if (!Number.isInteger(this.quorum) || this.quorum < 1 || this.quorum > this.window) throw new RangeError(`quorum ${this.quorum} is not 1-${this.window}`);
  }

  /** The address believed now, or null. */
  get address(): string | null {
    return this.winner;
  }

  /** Records that `voter` saw us at `address`; returns the address believed after this vote. */
  add(voter: string, address: string): string | null {
    this.votes.delete(voter);
    this.votes.set(voter, address);
    if (this.votes.size > this.window) this.votes.delete(this.votes.keys().next().value!);
    const counts = new Map<string, number>();
    for (const a of this.votes.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
    const ranked = [...counts].sort((x, y) => y[1] - x[1]);
    const [top, second] = ranked;
    // A tie keeps what we believed: flapping between two ids would cost more than either.
    if (top !== undefined && top[1] >= this.quorum && (second === undefined || top[1] > second[1])) this.winner = top[0];
    return this.winner;
  }
}
