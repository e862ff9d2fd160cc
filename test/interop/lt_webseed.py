#!/usr/bin/python3
"""libtorrent and BEP 19 web seeds, for seedbank's interop test (test/interop/lt-webseed.test.ts).

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). Loopback only: the session listens on
127.0.0.1, DHT, LSD, UPnP, NAT-PMP and uTP are off, and no peer is ever given: every byte comes
from the web seed in the torrent's url-list.

  create <path> <out.torrent> --webseed URL [--piece-length N]
      libtorrent's create_torrent over a file or folder (default flags: a hybrid v1+v2 torrent),
      with URL as its web seed (add_url_seed); prints {"ok": true, "v1": b, "v2": b, "files": F,
      "padFiles": P, "pieces": N}.
  download <torrent> <save-path> [--timeout S]
      downloads from the torrent's web seeds only and prints {"ok": true/false, "progress": p,
      "done": n, "wanted": n, "errors": [...]} once it seeds (every piece passed libtorrent's own hash
      checks) or the timeout passed.

Web seeds on loopback need no special setting in libtorrent 2.0.8 (read in its torrent.cpp,
connect_to_url_seed and connect_web_seed, and seen working here): nothing refuses a web seed for
being on a local or loopback address. What does exist:
- `ssrf_mitigation` (on by default) refuses a web seed on a local address (127/8 counts) whose URL
  has a query string ("blocked by SSRF mitigation", seen here with http://127.0.0.1:P/f.bin?sig=1),
  and a redirect from a global web seed to a local address. Our URLs have no query, so it stays on;
  a test of presigned (query-string) URLs on loopback would have to turn it off.
- `allow_idna` (off) concerns internationalised host names only; the port filter refuses privileged
  ports only when `no_connect_privileged_ports` is set (off by default).
- `max_web_seed_connections` (3) caps web seeds per torrent; we use one.
`ban_web_seeds` stays on: a web seed that sends bad data is dropped, and as there is no other
source the download then fails visibly.
"""
import argparse
import json
import os
import sys
import time

import libtorrent as lt

LOAD_LIMITS = {'max_buffer_size': 512 * 1024 * 1024, 'max_decode_tokens': 50_000_000}


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def cmd_create(a):
    fs = lt.file_storage()
    lt.add_files(fs, a.path)
    ct = lt.create_torrent(fs, a.piece_length)
    ct.add_url_seed(a.webseed)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(a.path)))
    with open(a.out, 'wb') as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(a.out)
    files = ti.files()
    pads = sum(1 for i in range(files.num_files()) if files.file_flags(i) & lt.file_storage.flag_pad_file)
    ih = ti.info_hashes()
    out({'ok': True, 'v1': ih.has_v1(), 'v2': ih.has_v2(), 'files': files.num_files() - pads, 'padFiles': pads,
         'pieces': ti.num_pieces()})
    return 0


def cmd_download(a):
    ses = lt.session({
        'listen_interfaces': '127.0.0.1:0',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.peer_notification,
        # a web seed that failed is retried after 30 s by default; a transient error must not use up
        # the whole time limit
        'urlseed_wait_retry': 2,
    })
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    h = ses.add_torrent({'ti': ti, 'save_path': a.save_path})
    errors = []
    start = time.time()
    deadline = start + a.timeout
    ok = False
    while time.time() < deadline:
        for al in ses.pop_alerts():
            if isinstance(al, (lt.url_seed_alert, lt.file_error_alert, lt.torrent_error_alert, lt.hash_failed_alert)):
                if len(errors) < 20:
                    errors.append('%s: %s' % (type(al).__name__, al.message()))
        st = h.status()
        if st.is_seeding:
            ok = True
            break
        time.sleep(0.05)
    st = h.status()
    out({'ok': ok, 'seconds': time.time() - start, 'progress': st.progress, 'state': str(st.state),
         'done': st.total_wanted_done, 'wanted': st.total_wanted, 'errors': errors})
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('create')
    c.add_argument('path')
    c.add_argument('out')
    c.add_argument('--webseed', required=True)
    c.add_argument('--piece-length', type=int, default=16384)
    d = sub.add_parser('download')
    d.add_argument('torrent')
    d.add_argument('save_path')
    d.add_argument('--timeout', type=float, default=60)
    a = ap.parse_args()
    return {'create': cmd_create, 'download': cmd_download}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
