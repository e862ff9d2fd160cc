/**
 * Tracker messages, both sides: HTTP announce and scrape (BEP 3, 23 compact peers, 7 `peers6`,
 * 48 scrape) and UDP tracker packets (BEP 15). Pure: bytes and strings in, values out; no sockets.
 *
 * For: building announce/scrape URLs and parsing what trackers answer (the client), and parsing
 * what clients ask and encoding answers (the server, src/discovery/tracker-server.ts).
 * Not for: deciding when to announce (src/discovery/tracker-set.ts) or moving bytes.
 *
 * This module only gathers the public names of three files: tracker-common.ts (errors, message
 * shapes, IP literals, compact peers, lenient reply decoding), tracker-http.ts (HTTP announce and
 * scrape) and tracker-udp.ts (BEP 15 packets). Import from here.
 */
export {
  type AnnounceRequest,
  type AnnounceResponse,
  type IpFamily,
  type Peer,
  type ScrapeStats,
  type TrackerErrorCode,
  type TrackerEvent,
  TrackerError,
  bytesToIp,
  decodeCompactPeers,
  decodeReply,
  encodeCompactPeers,
  ipToBytes,
  unmapIpv4,
} from './tracker-common.js';
export {
  MAX_QUERY_PARAMS,
  buildAnnounceUrl,
  buildScrapeUrl,
  encodeAnnounceResponse,
  encodeFailure,
  encodeScrapeResponse,
  parseAnnounceQuery,
  parseAnnounceResponse,
  parseQuery,
  parseScrapeQuery,
  parseScrapeResponse,
  percentDecodeBytes,
  percentEncodeBytes,
  scrapeUrlFor,
} from './tracker-http.js';
export {
  type UdpRequest,
  type UdpResponse,
  MAX_UDP_SCRAPE_HASHES,
  UDP_PROTOCOL_ID,
  decodeUdpRequest,
  decodeUdpResponse,
  encodeUdpRequest,
  encodeUdpResponse,
  newTransactionId,
} from './tracker-udp.js';
