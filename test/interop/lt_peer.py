#!/usr/bin/python3
"""libtorrent as a real peer for seedbank's transfer interop tests (test/interop/lt-transfer.test.ts).

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). Loopback only: the session listens on
127.0.0.1, DHT, LSD, UPnP, NAT-PMP and uTP are off, and the only peer is the one given.

  seed <torrent> <save-path> [--port P] [--timeout S]
      checks the data, prints {"event": "ready", "port": P} once it seeds, then keeps seeding until
      its standard input closes or the timeout passes; prints {"event": "done", "uploaded": N}.
  download <torrent> <save-path> --peer HOST:PORT [--timeout S]
      downloads from that peer and prints {"ok": true/false, "seconds": s, "progress": p, ...} when it
      is complete (every piece passed libtorrent's own hash checks) or the timeout passed.
  magnet <magnet-link> <save-path> --peer HOST:PORT [--timeout S]
      like download, starting from a magnet link (metadata comes from the peer, BEP 9).
"""
import argparse
import json
import select
import sys
import time

import libtorrent as lt

LOAD_LIMITS = {'max_buffer_size': 512 * 1024 * 1024, 'max_decode_tokens': 50_000_000}


def session(port):
    return lt.session({
        'listen_interfaces': '127.0.0.1:%d' % port,
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        # loopback peers must not wait a minute between attempts
        'min_reconnect_time': 1, 'peer_connect_timeout': 3,
    })


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def parse_peer(s):
    host, port = s.rsplit(':', 1)
    return host.strip('[]'), int(port)


def cmd_seed(a):
    ses = session(a.port)
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            break
        time.sleep(0.05)
    else:
        out({'event': 'error', 'message': 'did not reach seeding state', 'state': str(h.status().state)})
        return 1
    out({'event': 'ready', 'port': ses.listen_port()})
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and not sys.stdin.readline():
            break
    out({'event': 'done', 'uploaded': h.status().all_time_upload})
    return 0


def wait_download(ses, h, peer, timeout):
    start = time.time()
    deadline = start + timeout
    last_connect = 0
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            return {'ok': True, 'seconds': time.time() - start, 'progress': st.progress,
                    'downloaded': st.all_time_download, 'hashFailures': 0}
        if time.time() - last_connect > 2:
            h.connect_peer(peer)
            last_connect = time.time()
        time.sleep(0.05)
    st = h.status()
    return {'ok': False, 'seconds': time.time() - start, 'progress': st.progress, 'state': str(st.state)}


def cmd_download(a):
    ses = session(0)
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
    out(wait_download(ses, h, parse_peer(a.peer), a.timeout))
    return 0


def cmd_magnet(a):
    ses = session(0)
    p = lt.parse_magnet_uri(a.magnet)
    p.save_path = a.save_path
    h = ses.add_torrent(p)
    out(wait_download(ses, h, parse_peer(a.peer), a.timeout))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('seed')
    s.add_argument('torrent')
    s.add_argument('save_path')
    s.add_argument('--port', type=int, default=0)
    s.add_argument('--timeout', type=float, default=120)
    for name in ('download', 'magnet'):
        d = sub.add_parser(name)
        d.add_argument('magnet' if name == 'magnet' else 'torrent')
        d.add_argument('save_path')
        d.add_argument('--peer', required=True)
        d.add_argument('--timeout', type=float, default=60)
    a = ap.parse_args()
    return {'seed': cmd_seed, 'download': cmd_download, 'magnet': cmd_magnet}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
