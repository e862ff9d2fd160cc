#!/usr/bin/python3
"""A libtorrent node of bench/swarm, run inside its host's namespace with Debian's /usr/bin/python3
(python3-libtorrent 2.0.8).

  lt_node.py <torrent> <save-path> --ip ADDR [--timeout S]

It creates its session (listening on ADDR only), prints {"event": "ready"} and waits for a line
"go" on its standard input, so every node of a run starts at the same moment. Then it adds the
torrent: peers come from the torrent's tracker, the origin is the torrent's web seed (url-list).
It prints {"event": "done", "at": <epoch ms>} once it seeds (every piece passed libtorrent's hash
checks), keeps seeding until its standard input closes, then prints {"event": "final", ...} with
its payload byte counts and a timeline (one sample a second: ms since go, bytes downloaded,
bytes uploaded) and exits.

Settings are libtorrent's defaults except: DHT, LSD, UPnP, NAT-PMP and uTP off (TCP against TCP,
nothing leaves the namespace), and a web seed that failed is retried after 2 s instead of 30 s.
No rate limit is set: the host's caps are tc's.
"""
import argparse
import json
import resource
import select
import sys
import time

import libtorrent as lt

LOAD_LIMITS = {'max_buffer_size': 512 * 1024 * 1024, 'max_decode_tokens': 50_000_000}


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('torrent')
    ap.add_argument('save_path')
    ap.add_argument('--ip', required=True)
    ap.add_argument('--timeout', type=float, default=900)
    a = ap.parse_args()
    deadline = time.time() + a.timeout
    ses = lt.session({
        'listen_interfaces': '%s:6881' % a.ip,
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'urlseed_wait_retry': 2,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    out({'event': 'ready', 'port': ses.listen_port()})

    stdin_open = True
    h = None
    started = 0.0
    timeline = []
    next_sample = 0.0
    done = False
    errors = []
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.05)
        if r:
            line = sys.stdin.readline()
            if not line:
                stdin_open = False
                break
            if line.strip() == 'go' and h is None:
                started = time.time()
                h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
                next_sample = started + 1
        if h is None:
            continue
        for al in ses.pop_alerts():
            if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert, lt.url_seed_alert, lt.tracker_error_alert)):
                if len(errors) < 10:
                    errors.append('%s: %s' % (type(al).__name__, al.message()))
        now = time.time()
        st = h.status()
        if not done and st.is_seeding:
            done = True
            out({'event': 'done', 'at': now * 1000, 'downloaded': st.total_payload_download, 'peers': st.num_peers})
        if now >= next_sample:
            timeline.append([int((now - started) * 1000), st.total_payload_download, st.total_payload_upload])
            next_sample += 1
    st = h.status() if h is not None else None
    out({
        'event': 'final',
        'why': 'stdin closed' if not stdin_open else 'timeout',
        'bytesUploaded': st.total_payload_upload if st else 0,
        'bytesDownloaded': st.total_payload_download if st else 0,
        'errors': errors,
        'cpuSeconds': resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        'timeline': timeline,
    })
    return 0


if __name__ == '__main__':
    sys.exit(main())
