/**
 * A torrent's BEP 10 extension messages: our extension handshake and theirs, serving our info
 * dictionary to magnet peers (BEP 9 ut_metadata), peer exchange both ways (BEP 11 ut_pex; the
 * message itself is built in pex.ts), and seedbank's own sb_members (which neighbours fetch from
 * the origin; member-view.ts keeps what others report).
 *
 * Not for: fetching metadata ourselves (metadata-fetch.ts), deciding whom to dial (peer-list.ts,
 * torrent.ts), origin ownership (origin-rules.ts).
 */
import { type Metainfo } from '../codec/metainfo.js';
import { decodeExtHandshake, encodeExtHandshake, encodeMetadataMessage, decodeMetadataMessage, METADATA_PIECE_SIZE, decodePex, decodeMembers, encodeMembers } from '../codec/extensions.js';
import { VERSION } from '../version.js';
import { type PeerConnection } from './peer-connection.js';
import { type PeerList, peerKey } from './peer-list.js';
import { MEMBERS_INTERVAL_MS, MEMBERS_SECOND_REPORT_MS, MemberView } from './member-view.js';
import { FIRST_PEX_MS, MAX_PEX_PEERS, PEX_INTERVAL_MS, sendPexUpdates } from './pex.js';

/** Our extended message ids, as told in our extension handshake. */
const EXT_METADATA = 1;
const EXT_PEX = 2;
const EXT_MEMBERS = 3;

export interface TorrentExtensionsDeps {
  metainfo: Metainfo;
  /** Our peer id: never counted among the members. */
  selfId: Buffer;
  /** Our listening port, told to peers in the extension handshake. */
  port: number;
  /** Where the peers named by handshakes (listen ports) and PEX go. */
  peers: PeerList;
  connections: ReadonlyMap<string, PeerConnection>;
  now: () => number;
  stopped: () => boolean;
  /** Whether we fetch from an origin now, so that our neighbours are worth reporting. */
  fetchingFromOrigin: () => boolean;
  /** PEX named new peers: dial some if there is room. */
  onNewPeers: () => void;
}

export class TorrentExtensions {
  /** Seedbank nodes our neighbours report (sb_members), and when we last reported to each peer. */
  private readonly members: MemberView;
  private readonly membersSentAt = new Map<string, number>();

  constructor(private readonly deps: TorrentExtensionsDeps) {
    this.members = new MemberView(deps.now);
  }

  /** Our extension handshake, to a peer that set the extension bit. */
  sendHandshake(conn: PeerConnection): void {
    if (!conn.supportsExtensions) return;
    conn.send({
      type: 'extended',
      id: 0,
      payload: encodeExtHandshake({ m: { ut_metadata: EXT_METADATA, ut_pex: EXT_PEX, sb_members: EXT_MEMBERS }, v: `seedbank/${VERSION}`, p: this.deps.port, reqq: 2000, metadataSize: this.deps.metainfo.infoBytes.length }),
    });
  }

  /** Once a second: PEX and sb_members reports that are due. */
  tick(t: number): void {
    this.sendPex(t);
    for (const c of this.deps.connections.values()) {
      const sent = this.membersSentAt.get(c.key);
      if (sent !== undefined && t - sent >= MEMBERS_INTERVAL_MS) this.sendMembers(c);
    }
  }

  /** The connection closed. */
  forget(key: string): void {
    this.membersSentAt.delete(key);
  }

  /** Origin ownership members: connected seedbank peers and those they report (member-view.ts). */
  fetchingPeers(): Uint8Array[] {
    const direct: Uint8Array[] = this.fetchingNeighbours().map((c) => c.peerId);
    const exclude = new Set<string>([this.deps.selfId.toString('hex')]);
    for (const c of this.deps.connections.values()) exclude.add(c.peerId.toString('hex'));
    return direct.concat(this.members.ids(exclude));
  }

  /** An extended message (BEP 10); a malformed one closes the connection. */
  onMessage(conn: PeerConnection, id: number, payload: Uint8Array): void {
    try {
      if (id === 0) {
        const hs = decodeExtHandshake(payload);
        for (const [name, eid] of Object.entries(hs.m)) conn.extIds.set(name, eid);
        if (typeof hs.reqq === 'number' && hs.reqq > 0) conn.reqq = Math.min(hs.reqq, 5000);
        if (typeof hs.v === 'string') conn.client = hs.v;
        if (conn.extIds.has('sb_members') && !this.membersSentAt.has(conn.key)) {
          this.sendMembers(conn);
          const t = setTimeout(() => this.sendMembers(conn), MEMBERS_SECOND_REPORT_MS);
          t.unref?.();
        }
        if (typeof hs.p === 'number' && hs.p > 0 && !conn.outgoing) {
          conn.listenPort = hs.p;
          this.deps.peers.add(conn.host, hs.p, 'incoming');
          // We are connected to that address already (it dialed us): do not dial it again when a
          // tracker or PEX names it, or every pair of peers ends up with two connections.
          const listening = this.deps.peers.get(peerKey(conn.host, hs.p));
          if (listening) listening.connected = true;
        }
      } else if (id === EXT_METADATA) {
        this.onMetadataRequest(conn, payload);
      } else if (id === EXT_MEMBERS) {
        this.members.report(decodeMembers(payload));
      } else if (id === EXT_PEX) {
        if (this.deps.metainfo.private) return;
        const pex = decodePex(payload);
        for (const p of pex.added.slice(0, MAX_PEX_PEERS)) this.deps.peers.add(p.host, p.port, 'pex');
        this.deps.onNewPeers();
      }
    } catch (e) {
      conn.close(`bad extension message: ${(e as Error).message}`);
    }
  }

  /** Seedbank peers that still download, connected ones first: they may share our origin. */
  private fetchingNeighbours(): PeerConnection[] {
    return [...this.deps.connections.values()].filter((c) => !c.peerHasAll && c.peerId.subarray(0, 3).toString('latin1') === '-SB');
  }

  /** sb_members: tell a seedbank peer which of our neighbours fetch from the origin, while we do. */
  private sendMembers(conn: PeerConnection): void {
    if (conn.closed || this.deps.stopped()) return;
    this.membersSentAt.set(conn.key, this.deps.now());
    const id = conn.extIds.get('sb_members');
    if (!id || !this.deps.fetchingFromOrigin()) return;
    const ids = this.fetchingNeighbours().filter((c) => c !== conn).map((c) => c.peerId);
    conn.send({ type: 'extended', id, payload: encodeMembers(ids) });
  }

  /** BEP 11: tell each peer (that speaks ut_pex) which peers we are connected to, and who left. */
  private sendPex(t: number): void {
    if (this.deps.metainfo.private) return;
    // A first message soon after the connection opens (a young swarm meshes in seconds: two
    // peers that announced at the same moment never heard of each other from the tracker), then
    // at most once a minute, as BEP 11 asks.
    const due = [...this.deps.connections.values()].filter((c) =>
      c.pexSentAt === null ? t - c.connectedAt >= FIRST_PEX_MS : t - c.pexSentAt >= PEX_INTERVAL_MS,
    );
    if (due.length === 0) return;
    for (const c of due) c.pexSentAt = t;
    sendPexUpdates(this.deps.connections.values(), due);
  }

  /** BEP 9: serve our info dictionary to peers that came from a magnet link. */
  private onMetadataRequest(conn: PeerConnection, payload: Uint8Array): void {
    const theirId = conn.extIds.get('ut_metadata');
    if (!theirId) return;
    const msg = decodeMetadataMessage(payload);
    if (msg.msgType !== 0) return;
    const info = this.deps.metainfo.infoBytes;
    const start = msg.piece * METADATA_PIECE_SIZE;
    if (start >= info.length || msg.piece < 0) {
      conn.send({ type: 'extended', id: theirId, payload: encodeMetadataMessage({ msgType: 2, piece: msg.piece }) });
      return;
    }
    const data = info.subarray(start, Math.min(info.length, start + METADATA_PIECE_SIZE));
    conn.send({ type: 'extended', id: theirId, payload: encodeMetadataMessage({ msgType: 1, piece: msg.piece, totalSize: info.length, data }) });
  }
}
