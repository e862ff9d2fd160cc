#!/usr/bin/python3
"""libtorrent side of bench/create: hash one dataset with create_torrent, print time and peak RSS.

usage: lt_create.py <content-path> <v1|v2|hybrid> <piece-length>
"""
import json
import os
import resource
import sys
import time

import libtorrent as lt

path, version, piece_length = sys.argv[1], sys.argv[2], int(sys.argv[3])
flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[version]
start = time.perf_counter()
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
data = lt.bencode(ct.generate())
seconds = time.perf_counter() - start
print(json.dumps({
    'seconds': seconds,
    'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    'torrentBytes': len(data),
}))
