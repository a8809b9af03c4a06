"""One side of the "pair" benchmark, played by python3-libtorrent.

Run with /usr/bin/python3 (Debian's Python; the only one that imports
libtorrent here). The Go program embeds this file and runs it as:

  seed TORRENT SAVE_PATH --listen IP:PORT [--high-performance]
      add the torrent, let libtorrent check the data, print {"ready": true}
      once it seeds, then seed until killed
  get TORRENT SAVE_PATH --listen IP:PORT --peer IP:PORT [--high-performance]
      download from the peer, print {"done": true, ...} once every piece has
      passed its hash check, then exit

Settings are libtorrent's defaults (or lt.high_performance_seed() with
--high-performance), changed only where a loopback benchmark needs it: one
listen address, no DHT/LSD/UPnP/NAT-PMP, TCP only (Shoal has no uTP),
plaintext outgoing handshakes (Shoal has no BEP 8 encryption, and an
encrypted attempt would cost a reconnect), several peers per IP.
"""

import json
import sys
import time

import libtorrent as lt


def make_session(listen, high_performance):
    pack = lt.high_performance_seed() if high_performance else lt.default_settings()
    pack.update({
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": int(lt.alert.category_t.status_notification),
    })
    return lt.session(pack)


def emit(obj):
    print(json.dumps(obj), flush=True)


def seed(torrent, save_path, listen, high_performance):
    ses = make_session(listen, high_performance)
    ti = lt.torrent_info(torrent)
    # A full check rather than seed_mode, which would hash each piece the
    # first time it is sent: shoal seed also checks up front, and the
    # benchmark counts the seeder's CPU only while the leecher runs.
    # flags=0: neither paused nor auto-managed, so it starts at once.
    h = ses.add_torrent({"ti": ti, "save_path": save_path, "flags": 0})
    deadline = time.time() + 300
    while not h.status().is_seeding or ses.listen_port() == 0:
        if time.time() > deadline:
            sys.exit("pair_lt.py seed: not seeding after 300 s (state %s)" % h.status().state)
        time.sleep(0.01)
    emit({"ready": True, "port": ses.listen_port()})
    while True:
        time.sleep(3600)


def get(torrent, save_path, listen, peer, high_performance):
    start = time.monotonic()
    ses = make_session(listen, high_performance)
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    h.connect_peer(peer)
    last_dial = time.monotonic()
    # Wait on alerts rather than polling the status, so the leecher spends
    # its CPU on the transfer; the finished alert comes once every piece has
    # passed its hash check.
    finished = False
    while not finished:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_finished_alert):
                finished = True
        if finished or h.status().is_finished:
            break
        now = time.monotonic()
        # A dial that failed (the seeder's socket was not up yet) is retried;
        # connect_peer does nothing for a peer already connected.
        if now - last_dial > 1 and h.status().num_peers == 0:
            h.connect_peer(peer)
            last_dial = now
    seconds = time.monotonic() - start
    st = h.status()
    emit({
        "done": True,
        "seconds": seconds,
        "downloaded": st.total_payload_download,
        "pieces": st.num_pieces,
    })
    # Returning ends the session in order (its disk writes finish before
    # the process exits); the benchmark times that apart, as "exit".


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def main(argv):
    if len(argv) < 3 or argv[0] not in ("seed", "get"):
        sys.exit(__doc__)
    mode, torrent, save_path = argv[0], argv[1], argv[2]
    listen, peer, high_performance = None, None, False
    rest = argv[3:]
    while rest:
        flag = rest.pop(0)
        if flag == "--listen" and rest:
            listen = rest.pop(0)
        elif flag == "--peer" and rest:
            peer = parse_endpoint(rest.pop(0))
        elif flag == "--high-performance":
            high_performance = True
        else:
            sys.exit("pair_lt.py: bad argument " + flag)
    if listen is None:
        sys.exit("pair_lt.py: --listen IP:PORT is required")
    if mode == "seed":
        seed(torrent, save_path, listen, high_performance)
    else:
        if peer is None:
            sys.exit("pair_lt.py get: --peer IP:PORT is required")
        get(torrent, save_path, listen, peer, high_performance)


if __name__ == "__main__":
    main(sys.argv[1:])
