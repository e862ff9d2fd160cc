/**
 * BEP 15 connection ids that a UDP tracker can check without remembering them.
 *
 * A connection id proves that whoever sends an announce can receive packets at its source address,
 * so a spoofed source cannot make the tracker list a victim as a peer. Instead of a table of issued
 * ids (which a flood of connect requests would grow), the id is the first 8 bytes of
 * HMAC-SHA256(secret, time window ‖ source IP). It is valid in the window it was issued in and the
 * next one: with one-minute windows, between one and two minutes, as BEP 15 asks (clients use an id
 * for one minute; trackers accept it for two). The secret is random per server start, so ids do not
 * survive a restart, which BEP 15 allows: clients reconnect when an id is refused.
 *
 * Only the IP address is bound, not the port: a client may announce from a new socket.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Length of one window in which a connection id is issued. @default 60 s */
export const DEFAULT_CONNECTION_ID_WINDOW_MS = 60_000;

export class ConnectionIds {
  private readonly secret: Buffer;

  constructor(
    private readonly now: () => number,
    private readonly windowMs = DEFAULT_CONNECTION_ID_WINDOW_MS,
    secret?: Uint8Array,
  ) {
    this.secret = Buffer.from(secret ?? randomBytes(32));
  }

  /** A fresh id for `address` (an IP literal). */
  issue(address: string): bigint {
    return this.idFor(address, this.window());
  }

  /** Whether `id` was issued to `address` in this window or the previous one. */
  verify(id: bigint, address: string): boolean {
    const w = this.window();
    return id === this.idFor(address, w) || id === this.idFor(address, w - 1);
  }

  private window(): number {
    return Math.floor(this.now() / this.windowMs);
  }

  private idFor(address: string, window: number): bigint {
    return createHmac('sha256', this.secret).update(`${window}|${address}`).digest().readBigUInt64BE(0);
  }
}
