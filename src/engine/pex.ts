/**
 * BEP 11 peer exchange, the sending side: each connected peer that speaks ut_pex hears which
 * peers we are connected to that it has not heard of from us, and which of those left. The
 * torrent calls this for a peer soon after it connects, then about once a minute (BEP 11 asks for
 * no more). Receiving is in torrent-extensions.ts.
 */
import { encodePex } from '../codec/extensions.js';
import { type PeerConnection } from './peer-connection.js';
import { peerKey } from './peer-list.js';

/** Peers named per message, added and dropped alike. */
export const MAX_PEX_PEERS = 50;
/** How often we tell peers about other peers (BEP 11 asks for at most once a minute). */
export const PEX_INTERVAL_MS = 60_000;
/** The first PEX message to a peer, this long after it connected (its extension handshake is in). */
export const FIRST_PEX_MS = 2000;

/** Sends each of `to` (default: every connection) what changed among `connections` since last time. */
export function sendPexUpdates(connections: Iterable<PeerConnection>, to?: readonly PeerConnection[]): void {
  const conns = [...connections];
  const live = new Map<string, { host: string; port: number }>();
  for (const c of conns) if (c.listenPort) live.set(peerKey(c.host, c.listenPort), { host: c.host, port: c.listenPort });
  for (const c of to ?? conns) {
    const id = c.extIds.get('ut_pex');
    if (!id) continue;
    const added = [...live.entries()].filter(([k]) => !c.pexSent.has(k) && k !== peerKey(c.host, c.listenPort ?? c.port)).slice(0, MAX_PEX_PEERS);
    const dropped = [...c.pexSent].filter((k) => !live.has(k)).slice(0, MAX_PEX_PEERS);
    if (added.length === 0 && dropped.length === 0) continue;
    for (const [k] of added) c.pexSent.add(k);
    for (const k of dropped) c.pexSent.delete(k);
    try {
      c.send({ type: 'extended', id, payload: encodePex({ added: added.map(([, a]) => a), dropped: dropped.map(addressOf) }) });
    } catch {
      // an address PEX cannot carry (not IPv4/IPv6 text): skip this round for this peer
    }
  }
}

/** `host:port` or `[v6]:port` back into its parts. */
function addressOf(key: string): { host: string; port: number } {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(key)!;
  return { host: m[1]!, port: Number(m[2]) };
}
