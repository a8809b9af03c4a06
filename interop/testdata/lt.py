"""Drive python3-libtorrent for Shoal's interop tests.

Run with /usr/bin/python3 (Debian's Python; the only one that imports
libtorrent here). Subcommands:

  info TORRENT                     print the torrent as libtorrent sees it (JSON)
  magnet URI                       print a magnet link as libtorrent parses it (JSON)
  verify TORRENT SAVE_PATH         hash-check data in SAVE_PATH; print pieces that pass
  create DIR OUT [--v1-only] [--piece-size N]
                                   make a torrent with lt.create_torrent
"""

import json
import os
import sys

import libtorrent as lt


def info(path):
    ti = lt.torrent_info(path)
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        files.append({
            "path": fs.file_path(i).split("/"),
            "length": fs.file_size(i),
            "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
        })
    hashes = ti.info_hashes()
    tiers = {}
    for t in ti.trackers():
        tiers.setdefault(t.tier, []).append(t.url)
    info_dict = lt.bdecode(ti.info_section())
    source = info_dict.get(b"source")
    out = {
        "source": source.decode() if source is not None else None,
        "info_hash_v1": str(hashes.v1) if hashes.has_v1() else None,
        "has_v2": hashes.has_v2(),
        "name": ti.name(),
        "total_size": ti.total_size(),
        "piece_length": ti.piece_length(),
        "num_pieces": ti.num_pieces(),
        "private": ti.priv(),
        "files": files,
        "trackers": [tiers[k] for k in sorted(tiers)],
        "web_seeds": [w["url"] for w in ti.web_seeds()],
    }
    print(json.dumps(out))


def magnet(uri):
    p = lt.parse_magnet_uri(uri)
    ih = p.info_hashes
    out = {
        "info_hash_v1": str(ih.v1) if ih.has_v1() else None,
        "name": p.name,
        "trackers": list(p.trackers),
        "url_seeds": list(p.url_seeds),
    }
    print(json.dumps(out))


def verify(path, save_path):
    """Hash-check the data under save_path against the torrent's pieces."""
    import time
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": 0,
    })
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    busy = (lt.torrent_status.checking_files,
            lt.torrent_status.checking_resume_data,
            lt.torrent_status.queued_for_checking,
            lt.torrent_status.allocating)
    deadline = time.time() + 60
    while h.status().state in busy:
        if time.time() > deadline:
            sys.exit("lt.py verify: still checking after 60 s")
        time.sleep(0.05)
    st = h.status()
    print(json.dumps({
        "num_pieces": ti.num_pieces(),
        "pieces_ok": st.num_pieces,
        "seeding": st.is_seeding,
    }))


def create(src, out, v1_only, piece_size):
    fs = lt.file_storage()
    lt.add_files(fs, src)
    if fs.num_files() == 0:
        sys.exit("lt.py: no files under " + src)
    flags = lt.create_torrent.v1_only if v1_only else 0
    ct = lt.create_torrent(fs, piece_size, flags=flags)
    ct.set_creator("interop lt.py")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(src)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def main(argv):
    if len(argv) >= 2 and argv[0] == "info":
        info(argv[1])
    elif len(argv) >= 2 and argv[0] == "magnet":
        magnet(argv[1])
    elif len(argv) >= 3 and argv[0] == "verify":
        verify(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "create":
        v1_only = False
        piece_size = 0
        rest = argv[3:]
        while rest:
            if rest[0] == "--v1-only":
                v1_only = True
                rest = rest[1:]
            elif rest[0] == "--piece-size" and len(rest) >= 2:
                piece_size = int(rest[1])
                rest = rest[2:]
            else:
                sys.exit("lt.py: unknown option " + rest[0])
        create(argv[1], argv[2], v1_only, piece_size)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
