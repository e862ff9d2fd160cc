/**
 * Pieces someone is waiting for, each fetched once however many wait: what `seed --from-origin`
 * needs (a peer asks for a piece we advertise but do not hold yet; the origin fetches it; every
 * request for it waits on that one fetch).
 *
 * Not for: how the piece is fetched (the caller's `start`), or verification.
 */
interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class PieceWaiters {
  private readonly waiting = new Map<number, Waiter[]>();

  /** `have`: is the piece here already; `start`: begin fetching it (called once per piece). */
  constructor(
    private readonly have: (index: number) => boolean,
    private readonly start: (index: number) => void,
  ) {}

  /** Resolves when piece `index` is here, rejects if it cannot come. */
  wait(index: number): Promise<void> {
    if (this.have(index)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let list = this.waiting.get(index);
      if (!list) {
        this.waiting.set(index, (list = []));
        this.start(index);
      }
      list.push({ resolve, reject });
    });
  }

  /** The piece arrived (err null) or cannot (err). */
  settle(index: number, err: Error | null): void {
    const list = this.waiting.get(index);
    if (!list) return;
    this.waiting.delete(index);
    for (const w of list) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  failAll(err: Error): void {
    for (const i of [...this.waiting.keys()]) this.settle(i, err);
  }
}
