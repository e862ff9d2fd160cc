/**
 * Keeps a dataset name alive (BEP 44/46): DHT nodes drop a stored item after a couple of hours,
 * so a seed that holds the name's key stores it again well before then. It re-stores the newest
 * version the DHT holds, as it is (same seq and value; ed25519 signatures are deterministic, so
 * re-signing gives the same signature); it never moves the name back to an older version. Only when
 * the DHT holds no version at all does it publish the torrent it seeds, one past the last
 * version it saw (or 1).
 */
import { type Ed25519Keys } from '../codec/bep44.js';
import { type DualDht } from '../dht/dual.js';

/** Our item store keeps items 2 h, libtorrent's about as long: store again every 45 min. */
export const REPUBLISH_MS = 45 * 60_000;
/** After a round that stored nothing (no node yet, all unreachable), try again sooner. */
export const RETRY_MS = 30_000;

export interface NameKeeperStatus {
  /** Rounds run, and those in which some node stored the item. */
  rounds: number;
  stored: number;
  /** The version last stored, or null. */
  seq: number | null;
  /** True when the stored version is the torrent this seed serves. */
  pointsHere: boolean;
}

export interface NameKeeper {
  readonly status: NameKeeperStatus;
  /** Runs a round now (unless one runs), e.g. once the DHT has its first nodes. */
  now(): Promise<void>;
  stop(): void;
}

export function keepName(dht: DualDht, keys: Ed25519Keys, salt: Buffer, ourValue: Buffer, firstDelayMs = 2_000): NameKeeper {
  const status: NameKeeperStatus = { rounds: 0, stored: 0, seq: null, pointsHere: false };
  let last: { seq: number; vBencoded: Uint8Array } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void round(), ms);
    timer.unref();
  };
  const round = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const current = await dht.getMutable(keys.publicKey, salt.length ? salt : undefined).catch(() => null);
        const item = current ?? last ?? { seq: 1, vBencoded: ourValue };
        const put = await dht.putMutable(keys, { salt: salt.length ? salt : undefined, seq: item.seq, vBencoded: item.vBencoded }).catch(() => ({ storedAt: 0 }));
        status.rounds++;
        if (put.storedAt > 0) {
          status.stored++;
          status.seq = item.seq;
          status.pointsHere = Buffer.from(item.vBencoded).equals(ourValue);
          last = { seq: item.seq, vBencoded: item.vBencoded };
        }
        schedule(put.storedAt > 0 ? REPUBLISH_MS : RETRY_MS);
      } finally {
        running = null;
      }
    })());
  schedule(firstDelayMs);
  return {
    status,
    now: () => round(),
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
