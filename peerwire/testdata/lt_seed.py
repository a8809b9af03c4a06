"""Seed a small v1 torrent with libtorrent on 127.0.0.1 for peerwire's interop test.

Usage: /usr/bin/python3 lt_seed.py DIR
Writes DIR/payload.bin (byte i is i % 251), seeds it, prints one line
"READY <port> <infohash hex> <num pieces> <metadata size>" and runs until
stdin closes.
"""
import os
import sys
import time

import libtorrent as lt

SIZE = 100 * 1024 + 123
PIECE_LENGTH = 16 * 1024


def main():
    root = sys.argv[1]
    path = os.path.join(root, "payload.bin")
    with open(path, "wb") as f:
        f.write(bytes(i % 251 for i in range(SIZE)))

    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, PIECE_LENGTH, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, root)
    info = lt.torrent_info(ct.generate())

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": 0,
    })
    atp = lt.add_torrent_params()
    atp.ti = info
    atp.save_path = root
    atp.flags |= lt.torrent_flags.seed_mode
    # New torrents start paused and auto-managed; a paused torrent refuses
    # incoming connections ("no active torrents").
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    h = ses.add_torrent(atp)

    deadline = time.time() + 20
    while not h.status().is_seeding or h.status().paused or ses.listen_port() == 0:
        if time.time() > deadline:
            sys.exit("torrent did not start seeding")
        time.sleep(0.05)

    print("READY %d %s %d %d" % (ses.listen_port(), str(info.info_hash()),
                                 info.num_pieces(), len(info.info_section())), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
