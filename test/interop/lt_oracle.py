#!/usr/bin/python3
"""libtorrent as an oracle for seedbank's interop tests (test/interop/libtorrent.test.ts).

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). Each subcommand prints one JSON
object on stdout; errors go to stderr with exit status 2 (usage) or 1 (anything else).

  create <root-dir> <content-name> <out.torrent> --version v1|v2|hybrid --piece-length N
      libtorrent builds a torrent of <root-dir>/<content-name> and writes it; prints both info
      hashes and the real files (pad files excluded) with their pieces roots.
  inspect <torrent>
      libtorrent loads a torrent (with limits large enough for big datasets) and prints what it
      sees: name, piece length, pieces, info hashes and every file entry, pad files included.
  recheck <torrent> <save-path> [--timeout SECONDS]
      libtorrent checks <save-path>/<name>/... against the torrent in a session that talks to no
      one (loopback listen socket only, no DHT/LSD/UPnP/NAT-PMP/PEX, no trackers, an IP filter
      blocking every address) and prints how many pieces it found valid.

Every loop is bounded in iterations and time. Nothing here opens a connection.
"""
import argparse
import json
import os
import sys
import time

import libtorrent as lt

# Big enough for torrents of hundreds of thousands of files (the defaults refuse ~10 MB metadata).
LOAD_LIMITS = {
    'max_buffer_size': 512 * 1024 * 1024,
    'max_decode_depth': 100,
    'max_decode_tokens': 50_000_000,
    'max_pieces': 0x8000000,
}


def hex_or_none(h):
    """A sha1_hash / sha256_hash as lowercase hex, or None when it is all zeros (absent)."""
    if h is None or h.is_all_zeros():
        return None
    return h.to_bytes().hex()


def relative_path(fs, i, multi_file):
    p = fs.file_path(i).replace(os.sep, '/')
    prefix = fs.name() + '/'
    if multi_file and p.startswith(prefix):
        p = p[len(prefix):]
    return p


def is_multi_file(fs):
    # A single-file torrent has exactly one entry whose path is the torrent name itself.
    return not (fs.num_files() == 1 and fs.file_path(0) == fs.name())


def describe_files(fs, include_pads):
    multi = is_multi_file(fs)
    out = []
    for i in range(fs.num_files()):
        flags = fs.file_flags(i)
        pad = bool(flags & lt.file_storage.flag_pad_file)
        if pad and not include_pads:
            continue
        size = fs.file_size(i)
        offset = fs.file_offset(i)
        entry = {
            'path': relative_path(fs, i, multi),
            'length': size,
            'offset': offset,
            'piecesRoot': hex_or_none(fs.root(i)) if fs.v2() else None,
            'pad': pad,
            'executable': bool(flags & lt.file_storage.flag_executable),
        }
        if size > 0:
            # Pieces [first, end) holding the file's bytes, from libtorrent's own file offsets.
            entry['firstPiece'] = offset // fs.piece_length()
            entry['endPiece'] = (offset + size + fs.piece_length() - 1) // fs.piece_length()
        out.append(entry)
    return out


def info_hashes(ti):
    ih = ti.info_hashes()
    return {
        'infoHashV1': ih.v1.to_bytes().hex() if ih.has_v1() else None,
        'infoHashV2': ih.v2.to_bytes().hex() if ih.has_v2() else None,
    }


def cmd_create(a):
    flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[a.version]
    root = os.path.abspath(a.root_dir)
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(root, a.content_name))
    if fs.num_files() == 0:
        raise SystemExit(f'no files under {os.path.join(root, a.content_name)}')
    ct = lt.create_torrent(fs, a.piece_length, flags)
    ct.set_creator('lt_oracle')
    lt.set_piece_hashes(ct, root)
    data = lt.bencode(ct.generate())
    with open(a.out, 'wb') as f:
        f.write(data)
    ti = lt.torrent_info(a.out, LOAD_LIMITS)
    fst = ti.files()
    print(json.dumps({
        'torrentFile': os.path.abspath(a.out),
        'name': ti.name(),
        'pieceLength': ti.piece_length(),
        'numPieces': ti.num_pieces(),
        **info_hashes(ti),
        'files': describe_files(fst, include_pads=False),
    }))


def cmd_inspect(a):
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    fs = ti.files()
    print(json.dumps({
        'name': ti.name(),
        'pieceLength': ti.piece_length(),
        'numPieces': ti.num_pieces(),
        'totalSize': ti.total_size(),
        **info_hashes(ti),
        'multiFile': is_multi_file(fs),
        'files': describe_files(fs, include_pads=True),
    }))


def cmd_recheck(a):
    ti = lt.torrent_info(a.torrent, LOAD_LIMITS)
    settings = {
        'listen_interfaces': '127.0.0.1:0',
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_incoming_utp': False,
        'enable_outgoing_utp': False,
        'announce_to_all_trackers': False,
        'alert_mask': lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
    }
    ses = lt.session(settings)
    # Belt and braces: refuse every peer address, so even a stray peer source cannot reach out.
    f = lt.ip_filter()
    f.add_rule('0.0.0.0', '255.255.255.255', 1)
    f.add_rule('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 1)
    ses.set_ip_filter(f)

    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.abspath(a.save_path)
    atp.trackers = []
    atp.url_seeds = []
    atp.flags = (lt.torrent_flags.stop_when_ready | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
                 | lt.torrent_flags.disable_pex | lt.torrent_flags.apply_ip_filter)
    h = ses.add_torrent(atp)

    deadline = time.monotonic() + a.timeout
    checked = False
    errors = []
    for _ in range(int(a.timeout / 0.05) + 1):
        for al in ses.pop_alerts():
            if isinstance(al, lt.torrent_checked_alert):
                checked = True
            elif isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
                errors.append(al.message())
        st = h.status()
        if checked and st.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            break
        if time.monotonic() > deadline:
            break
        ses.wait_for_alert(50)
    st = h.status()
    result = {
        'checked': checked,
        'timedOut': not checked,
        'state': str(st.state),
        'progress': st.progress,
        'numPieces': st.num_pieces,
        'totalPieces': ti.num_pieces(),
        'isSeeding': st.is_seeding,
        'errors': errors + ([st.errc.message()] if st.errc.value() else []),
    }
    ses.remove_torrent(h)
    print(json.dumps(result))
    if not checked:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(prog='lt_oracle')
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('create')
    c.add_argument('root_dir')
    c.add_argument('content_name')
    c.add_argument('out')
    c.add_argument('--version', choices=['v1', 'v2', 'hybrid'], required=True)
    c.add_argument('--piece-length', type=int, required=True)
    i = sub.add_parser('inspect')
    i.add_argument('torrent')
    r = sub.add_parser('recheck')
    r.add_argument('torrent')
    r.add_argument('save_path')
    r.add_argument('--timeout', type=float, default=60.0)
    a = p.parse_args()
    try:
        {'create': cmd_create, 'inspect': cmd_inspect, 'recheck': cmd_recheck}[a.cmd](a)
    except Exception as e:  # one line on stderr, like seedbank
        sys.stderr.write(f'lt_oracle {a.cmd}: {type(e).__name__}: {e}\n')
        sys.exit(1)


if __name__ == '__main__':
    main()
