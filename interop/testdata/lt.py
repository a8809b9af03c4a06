"""Drive python3-libtorrent for Shoal's interop tests.

Run with /usr/bin/python3 (Debian's Python; the only one that imports
libtorrent here). Subcommands:

  info TORRENT                     print the torrent as libtorrent sees it (JSON)
  magnet URI                       print a magnet link as libtorrent parses it (JSON)
  verify TORRENT SAVE_PATH         hash-check data in SAVE_PATH; print pieces that pass
  create DIR OUT [--v1-only] [--piece-size N]
                                   make a torrent with lt.create_torrent
  seed TORRENT SAVE_PATH --listen IP:PORT [--peer IP:PORT]...
                                   hash-check SAVE_PATH, print {"seeding": true}
                                   once every piece passes, then seed until killed
  download TORRENT SAVE_PATH --listen IP:PORT [--peer IP:PORT]... [--timeout S]
                                   download into SAVE_PATH; print a status line
                                   a second and a last {"done": true} line

seed and download dial every --peer (again every second while it is not
connected) and print one JSON object per line.
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


def transfer_session(listen):
    """A session for transfers on loopback: one listen address, no DHT, LSD,
    UPnP or NAT-PMP, TCP only (Shoal has no uTP), plaintext (Shoal has no
    BEP 8 encryption), several peers allowed on one IP (Shoal dials from
    127.0.0.1 whatever it listens on). Outgoing connections leave from the listen
    address, so other clients see libtorrent's own IP."""
    return lt.session({
        "listen_interfaces": listen,
        "outgoing_interfaces": listen.rpartition(":")[0],
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def connect_missing(h, peers):
    """Dial the peers that are not connected: connect_peer is a no-op for a
    connected one, and a peer that was not listening yet gets another try."""
    connected = {p.ip for p in h.get_peer_info()}
    for ep in peers:
        if ep not in connected:
            h.connect_peer(ep)


def orphaned(parent):
    """Whether the process that started us is gone: then nobody will stop
    us, so a seeder must not linger."""
    return os.getppid() != parent


def emit(obj):
    print(json.dumps(obj), flush=True)


def status_line(h):
    st = h.status()
    return {
        "state": str(st.state),
        "progress": round(st.progress, 4),
        "pieces": st.num_pieces,
        "peers": st.num_peers,
        "downloaded": st.total_payload_download,
        "uploaded": st.total_payload_upload,
        "seeding": st.is_seeding,
        "error": str(st.errc.message()) if st.errc.value() else None,
    }


def seed(path, save_path, listen, peers):
    import time
    parent = os.getppid()
    ses = transfer_session(listen)
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.time() + 60
    while not h.status().is_seeding:
        st = h.status()
        if st.state == lt.torrent_status.downloading or st.errc.value():
            emit(status_line(h))
            sys.exit("lt.py seed: data under %s does not match the torrent (%d of %d pieces pass)"
                     % (save_path, st.num_pieces, ti.num_pieces()))
        if time.time() > deadline:
            sys.exit("lt.py seed: still checking after 60 s")
        time.sleep(0.05)
    line = status_line(h)
    line["listen_port"] = ses.listen_port()
    emit(line)
    while not orphaned(parent):
        connect_missing(h, peers)
        time.sleep(1)
        emit(status_line(h))


def download(path, save_path, listen, peers, timeout):
    import time
    parent = os.getppid()
    ses = transfer_session(listen)
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.time() + timeout
    while True:
        connect_missing(h, peers)
        line = status_line(h)
        emit(line)
        if line["seeding"]:
            break
        if line["error"]:
            sys.exit("lt.py download: torrent error: " + line["error"])
        if time.time() > deadline:
            sys.exit("lt.py download: not finished after %g s" % timeout)
        if orphaned(parent):
            sys.exit("lt.py download: parent process gone")
        time.sleep(0.5)
    # Pause and wait for the files to be released, so what the caller
    # compares is what libtorrent wrote.
    h.pause()
    ses.remove_torrent(h)
    time.sleep(0.2)
    line["done"] = True
    emit(line)


def parse_transfer_args(rest):
    listen, peers, timeout = None, [], 90.0
    while rest:
        if rest[0] == "--listen" and len(rest) >= 2:
            listen = rest[1]
        elif rest[0] == "--peer" and len(rest) >= 2:
            peers.append(parse_endpoint(rest[1]))
        elif rest[0] == "--timeout" and len(rest) >= 2:
            timeout = float(rest[1])
        else:
            sys.exit("lt.py: unknown option " + rest[0])
        rest = rest[2:]
    if listen is None:
        sys.exit("lt.py: --listen IP:PORT is required")
    return listen, peers, timeout


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
    elif len(argv) >= 3 and argv[0] == "seed":
        listen, peers, _ = parse_transfer_args(argv[3:])
        seed(argv[1], argv[2], listen, peers)
    elif len(argv) >= 3 and argv[0] == "download":
        listen, peers, timeout = parse_transfer_args(argv[3:])
        download(argv[1], argv[2], listen, peers, timeout)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
