/**
 * Which address a tracker lists for a peer.
 *
 * The rule: the source address of the connection (HTTP) or packet (UDP, whose source a connection
 * id has proven). The `ip` parameter (BEP 3; BEP 7 now discourages it) is honoured only when both
 * the source and the `ip` value are loopback, private (RFC 1918, RFC 6598 shared, IPv6 ULA) or
 * link-local addresses. So a peer on the tracker's own machine or LAN may say which LAN address the
 * others should dial (a container, a second interface), while nobody on the public internet can
 * make the swarm dial a third party. Clients on 127.0.0.1 (Transmission, aria2, libtorrent) do not
 * send `ip` and are listed as 127.0.0.1.
 */
import { bytesToIp, ipToBytes, unmapIpv4 } from '../codec/tracker.js';

/** Whether `ip` (a literal) is loopback, private, shared (CGNAT) or link-local. */
export function isLocalAddress(ip: string): boolean {
  const b = ipToBytes(unmapIpv4(ip));
  if (!b) return false;
  if (b.length === 4) {
    const [a, c] = [b[0]!, b[1]!];
    return a === 127 || a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168) || (a === 169 && c === 254) || (a === 100 && c >= 64 && c <= 127);
  }
  const loopback = b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
  return loopback || (b[0]! & 0xfe) === 0xfc || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/** The address to list for a peer that announced from `source`, maybe with an `ip` parameter. */
export function listedAddress(source: string, ipParam: string | undefined): string {
  const src = canonicalIp(source) ?? unmapIpv4(source);
  if (ipParam === undefined) return src;
  const wanted = canonicalIp(ipParam);
  return wanted !== null && isLocalAddress(src) && isLocalAddress(wanted) ? wanted : src;
}

/** RFC 5952 text of an IP literal, IPv4-mapped IPv6 as plain IPv4; null if not an IP literal. */
export function canonicalIp(s: string): string | null {
  const b = ipToBytes(unmapIpv4(s));
  return b ? unmapIpv4(bytesToIp(b)) : null;
}
