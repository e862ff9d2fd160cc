#!/usr/bin/python3
"""A small DHT of libtorrent sessions on loopback, for seedbank's DHT interop test
(test/interop/lt-dht.test.ts).

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). Everything listens on 127.0.0.1;
LSD, UPnP, NAT-PMP and uTP are off; no tracker is used. libtorrent's DHT refuses loopback nodes
unless dht_restrict_routing_ips, dht_restrict_search_ips, dht_enforce_node_id and
dht_prefer_verified_node_ids are false (see ../shared INTEROP-NOTES): they are, here only.

  swarm <folder> --nodes N [--timeout S]
      starts N sessions joined into one DHT (each added as a DHT node of the others); session 0
      seeds <folder> as a hybrid torrent with no tracker and announces it to the DHT. Prints
      {"event": "ready", "dhtPorts": [...], "btPort": p, "v1": hex, "v2": hex} once the torrent
      is seeding, then {"event": "stats", "dhtNodes": [...]} every 2 s; exits when stdin closes or
      at the timeout. Commands on stdin, one per line, answered by the last session:
        get_peers <40 hex>          -> {"event": "peers", "hash": hex, "peers": ["host:port", ...]}
        download <40 hex> <save path> -> adds magnet:?xt=urn:btih:<hex> (peers from the DHT only);
                                        {"event": "downloaded", "hash": hex} once it seeds
        get_mutable <64 hex> [salt hex] -> {"event": "mutable", "seq": n, "value": <bencoded hex or
                                        null>, "message": alert text} (libtorrent checks the
                                        signature before it reports an item)
"""
import argparse
import json
import os
import sys
import threading
import time

import libtorrent as lt


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def as_hex(x):
    # The bindings give some byte fields as str (latin-1 code points), others as bytes.
    return x.encode('latin1').hex() if isinstance(x, str) else bytes(x).hex()


def session():
    return lt.session({
        'listen_interfaces': '127.0.0.1:0',
        'enable_dht': True,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False,
        'dht_enforce_node_id': False,
        'dht_prefer_verified_node_ids': False,
        'dht_bootstrap_nodes': '',
        'alert_mask': lt.alert_category.error | lt.alert_category.status | lt.alert_category.dht | lt.alert_category.dht_operation,
    })


def dht_port(ses):
    # The DHT shares the listen socket's port (UDP) in libtorrent 2.0.
    return ses.listen_port()


def cmd_swarm(a):
    sessions = [session() for _ in range(a.nodes)]
    ports = [dht_port(s) for s in sessions]
    for s in sessions:
        for p in ports:
            if p != dht_port(s):
                s.add_dht_node(('127.0.0.1', p))
    fs = lt.file_storage()
    lt.add_files(fs, a.folder)
    ct = lt.create_torrent(fs, 16384)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(a.folder)))
    ti = lt.torrent_info(ct.generate())
    seed = sessions[0]
    h = seed.add_torrent({'ti': ti, 'save_path': os.path.dirname(os.path.abspath(a.folder))})
    deadline = time.time() + a.timeout
    while time.time() < deadline and not h.status().is_seeding:
        time.sleep(0.1)
    ih = ti.info_hashes()
    out({'event': 'ready', 'dhtPorts': ports, 'btPort': seed.listen_port(), 'v1': str(ih.v1), 'v2': str(ih.v2)})
    stop = threading.Event()
    commands = []

    def read_stdin():
        for line in sys.stdin:
            commands.append(line.split())
        stop.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    asker = sessions[-1]
    downloads = []
    next_announce = 0
    next_stats = 0
    while not stop.is_set() and time.time() < deadline:
        now = time.time()
        if now >= next_announce:
            h.force_dht_announce()
            next_announce = now + 5
        if now >= next_stats:
            out({'event': 'stats', 'dhtNodes': [s.status().dht_nodes for s in sessions]})
            next_stats = now + 2
        while commands:
            c = commands.pop(0)
            if c[0] == 'get_peers':
                asker.dht_get_peers(lt.sha1_hash(bytes.fromhex(c[1])))
            elif c[0] == 'download':
                p = lt.parse_magnet_uri('magnet:?xt=urn:btih:' + c[1])
                p.save_path = c[2]
                downloads.append((c[1], asker.add_torrent(p)))
            elif c[0] == 'get_mutable':
                asker.dht_get_mutable_item(bytes.fromhex(c[1]), bytes.fromhex(c[2]) if len(c) > 2 else b'')
        for (hx, dh) in list(downloads):
            if dh.status().is_seeding:
                out({'event': 'downloaded', 'hash': hx})
                downloads.remove((hx, dh))
        for al in asker.pop_alerts():
            if isinstance(al, lt.dht_get_peers_reply_alert):
                out({'event': 'peers', 'hash': str(al.info_hash), 'peers': ['%s:%d' % (e[0], e[1]) for e in al.peers()]})
            elif isinstance(al, lt.dht_mutable_item_alert):
                # The bindings' `item` only converts string values (a dictionary raises); the alert's
                # message renders any value, e.g. "[ { 'ih': '1111...' } ]" (bytes as hex).
                try:
                    value = lt.bencode(al.item).hex()
                except RuntimeError:
                    value = None
                out({'event': 'mutable', 'seq': al.seq, 'value': value, 'message': al.message(),
                     'authoritative': al.authoritative, 'key': as_hex(al.key), 'salt': as_hex(al.salt)})
        stop.wait(0.05)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('swarm')
    s.add_argument('folder')
    s.add_argument('--nodes', type=int, default=6)
    s.add_argument('--timeout', type=float, default=120)
    a = p.parse_args()
    return cmd_swarm(a)


if __name__ == '__main__':
    sys.exit(main())
