/**
 * Write tokens of a DHT node (BEP 5): the `token` a `get_peers` (or BEP 44 `get`) answer carries,
 * which the asker must send back with `announce_peer` (or `put`). It proves that the writer can
 * receive packets at the address it writes from, so nobody can announce a third party's address
 * or store items from a forged source address.
 *
 * For: issuing and checking tokens. Not for: deciding whether to answer (the DHT node) or rate
 * limits (query-limiter.ts). No timers and no I/O: secrets rotate lazily when the injected clock
 * passes the next rotation time, and randomness comes from the injected source.
 *
 * A token is a MAC of the requester's IP under a secret that changes every `rotateMs`; the
 * previous secret is kept one more period, so a token stays valid for between one and two periods
 * after it was issued (5-10 minutes by default, as BEP 5 suggests). Tokens are bound to the IP
 * only, not the port (BEP 5): a client may announce from another socket than it asked from.
 * IPv4-mapped IPv6 text (`::ffff:a.b.c.d`, what a dual-stack socket reports) is the same IPv4
 * address, so both forms get the same token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ipToBytes, unmapIpv4 } from '../codec/tracker.js';

/** How often the secret changes; a token lives one to two of these (BEP 5: "up to ten minutes"). */
export const DEFAULT_ROTATE_MS = 5 * 60_000;
/** Bytes of a token: 64 bits, so guessing one takes about 2^63 tries; short keeps packets small. */
export const TOKEN_LENGTH = 8;
/** Bytes of a secret: 128 bits, more than the token can reveal. */
export const SECRET_LENGTH = 16;

export interface TokenSecretsOptions {
  /** The clock, in ms. */
  now: () => number;
  /** Unpredictable bytes for secrets (crypto.randomBytes in the node; a fixed source in tests). */
  randomBytes: (n: number) => Uint8Array;
  /** How often the secret changes. @default DEFAULT_ROTATE_MS (5 min) */
  rotateMs?: number;
}

export class TokenSecrets {
  private readonly now: () => number;
  private readonly randomBytes: (n: number) => Uint8Array;
  readonly rotateMs: number;
  private current: Uint8Array;
  /** The secret before `current`; null when it is too old to honour (or there never was one). */
  private previous: Uint8Array | null = null;
  /** When `current` stops issuing tokens. Rotation times stay on the grid set at construction. */
  private nextRotation: number;

  constructor(options: TokenSecretsOptions) {
    this.now = options.now;
    this.randomBytes = options.randomBytes;
    this.rotateMs = options.rotateMs ?? DEFAULT_ROTATE_MS;
    if (!Number.isFinite(this.rotateMs) || this.rotateMs <= 0) throw new RangeError(`rotateMs ${this.rotateMs} is not a positive number`);
    this.current = this.freshSecret();
    this.nextRotation = this.now() + this.rotateMs;
  }

  /** The token to give `host` now (TOKEN_LENGTH bytes). */
  token(host: string): Buffer {
    this.rotate();
    return mac(this.current, host);
  }

  /** Whether `token` is one we gave `host` in this period or the one before. */
  valid(host: string, token: Uint8Array): boolean {
    if (token.length !== TOKEN_LENGTH) return false;
    this.rotate();
    // Both compared in constant time and always both, so timing does not say which secret matched.
    const now = timingSafeEqual(mac(this.current, host), token);
    const before = this.previous !== null && timingSafeEqual(mac(this.previous, host), token);
    return now || before;
  }

  /** Moves on as many periods as have passed since the last call. */
  private rotate(): void {
    const t = this.now();
    if (t < this.nextRotation) return;
    const periods = Math.floor((t - this.nextRotation) / this.rotateMs) + 1;
    // After two or more periods the old current secret is itself past its second period: tokens
    // under it are over the limit, so nothing older than the new period is honoured.
    this.previous = periods === 1 ? this.current : null;
    this.current = this.freshSecret();
    this.nextRotation += periods * this.rotateMs;
  }

  private freshSecret(): Uint8Array {
    const s = this.randomBytes(SECRET_LENGTH);
    if (s.length !== SECRET_LENGTH) throw new RangeError(`randomBytes gave ${s.length} bytes, not ${SECRET_LENGTH}`);
    return new Uint8Array(s);
  }
}

/**
 * The token of `host` under `secret`: HMAC-SHA-256 of the address, cut to TOKEN_LENGTH. An HMAC
 * rather than a plain hash of secret and address, so that what one token reveals says nothing
 * about another address's token.
 */
function mac(secret: Uint8Array, host: string): Buffer {
  return createHmac('sha256', secret).update(addressBytes(host)).digest().subarray(0, TOKEN_LENGTH);
}

/**
 * The bytes a token binds: a family tag, then the 4 or 16 address bytes, so that every way of
 * writing one address gets one token. A host that is not an IP literal (a name in a simulation)
 * is bound as its text, under a tag of its own so it never collides with an address.
 */
function addressBytes(host: string): Buffer {
  let ip = ipToBytes(unmapIpv4(host));
  if (ip === null) return Buffer.concat([Buffer.from([0]), Buffer.from(host, 'utf8')]);
  // unmapIpv4 knows only the short form; `0:0:0:0:0:ffff:a.b.c.d` is the same address too.
  if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) ip = ip.subarray(12);
  return Buffer.concat([Buffer.from([ip.length === 4 ? 4 : 6]), ip]);
}
