#!/usr/bin/python3
"""libtorrent side of bench/transfer: a seed, or a timed downloader, on 127.0.0.1 only.

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). Both modes use
lt.high_performance_seed() (the preset a fair throughput comparison should use, see
/work/shared/INTEROP-NOTES.md) with uTP, DHT, LSD, UPnP and NAT-PMP off. No rate limits are set,
so the "local" peer class that loopback peers fall into changes nothing here.

  seed <torrent> <save-path> [--timeout S]
      checks the data, prints {"event": "ready", "port": P} once it seeds, then seeds until its
      standard input closes or the timeout passes.
  download <torrent> <save-path> --peer HOST:PORT [--timeout S]
      times from session start to is_seeding (every piece passed libtorrent's hash checks) and
      prints {"ok", "seconds", "maxRssKb", "maxRssAnonKb", "downloaded"}. maxRssKb is ru_maxrss,
      which counts the file pages libtorrent 2.0 maps (it does its disk I/O through mmap);
      maxRssAnonKb is the largest RssAnon sampled while downloading (its own heap).
"""
import argparse
import json
import resource
import select
import sys
import time

import libtorrent as lt

LOAD_LIMITS = {'max_buffer_size': 512 * 1024 * 1024, 'max_decode_tokens': 50_000_000}


def settings(port):
    s = lt.high_performance_seed()
    s.update({
        'listen_interfaces': '127.0.0.1:%d' % port,
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        # a downloader that restarts on the same loopback address must not wait a minute
        'min_reconnect_time': 1, 'peer_connect_timeout': 3,
    })
    return s


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def rss_anon_kb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('RssAnon:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_seed(a):
    ses = lt.session(settings(0))
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if h.status().is_seeding:
            break
        time.sleep(0.05)
    else:
        st = h.status()
        out({'event': 'error', 'message': 'did not reach seeding state', 'state': str(st.state), 'progress': st.progress})
        return 1
    out({'event': 'ready', 'port': ses.listen_port()})
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.5)
        if r and not sys.stdin.readline():
            break
    out({'event': 'done', 'uploaded': h.status().all_time_upload})
    return 0


def cmd_download(a):
    host, port = a.peer.rsplit(':', 1)
    peer = (host, int(port))
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    start = time.perf_counter()
    ses = lt.session(settings(0))
    h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
    h.connect_peer(peer)
    last_connect = time.perf_counter()
    deadline = start + a.timeout
    max_anon = 0
    ok = False
    while True:
        now = time.perf_counter()
        if now > deadline:
            break
        ses.wait_for_alert(10)
        for al in ses.pop_alerts():
            if isinstance(al, lt.torrent_error_alert):
                out({'ok': False, 'error': al.message()})
                return 1
        st = h.status()
        max_anon = max(max_anon, rss_anon_kb())
        if st.is_seeding:
            ok = True
            break
        if now - last_connect > 2 and st.num_peers == 0:
            h.connect_peer(peer)
            last_connect = now
    seconds = time.perf_counter() - start
    st = h.status()
    out({
        'ok': ok,
        'seconds': seconds,
        'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        'maxRssAnonKb': max_anon,
        'downloaded': st.total_payload_download,
        'progress': st.progress,
    })
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('seed')
    s.add_argument('torrent')
    s.add_argument('save_path')
    s.add_argument('--timeout', type=float, default=1800)
    d = sub.add_parser('download')
    d.add_argument('torrent')
    d.add_argument('save_path')
    d.add_argument('--peer', required=True)
    d.add_argument('--timeout', type=float, default=120)
    a = ap.parse_args()
    return {'seed': cmd_seed, 'download': cmd_download}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
