"""libtorrent's side of the "swarm" benchmark: one seeder and N leechers.

Run with /usr/bin/python3 (Debian's Python; the only one that imports
libtorrent here). The Go program embeds this file and runs it as:

  swarm TORRENT SOURCE_DIR OUT_DIR --ips IP0,IP1,...,IPN --rate BYTES_PER_S

One libtorrent session per peer, each listening on its own address: IP0 is
the seeder (content in SOURCE_DIR), IPk the k-th leecher (saving into
OUT_DIR/k). Every session's upload is capped at --rate, also towards
loopback peers (libtorrent exempts "local" peers from rate limits unless
every address is moved into the global peer class). Output, one JSON
object per line:

  {"ready": true}                  every session is up and the seeder seeds
  {"start": true}                  every leecher was given every peer
  {"finished": K}                  leecher K has every piece verified
  {"done": true, "seeder_uploaded": B, "leecher_uploaded": [...]}
                                   every leecher finished; then it exits

Settings are libtorrent's defaults, changed only where a loopback swarm
needs it: one listen address per session, no DHT/LSD/UPnP/NAT-PMP, TCP only
(Shoal has no uTP), plaintext outgoing handshakes.
"""

import json
import os
import sys
import time

import libtorrent as lt


def emit(obj):
    print(json.dumps(obj), flush=True)


def make_session(ip, rate):
    pack = lt.default_settings()
    pack.update({
        "listen_interfaces": ip + ":0",
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "allow_multiple_connections_per_ip": True,
        "upload_rate_limit": rate,
        "alert_mask": int(lt.alert.category_t.status_notification),
    })
    ses = lt.session(pack)
    # Every address in the global peer class only: by default loopback and
    # private ranges are "local" and exempt from the rate limits.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(f)
    return ses


def wait_until(cond, seconds, what):
    deadline = time.time() + seconds
    while not cond():
        if time.time() > deadline:
            sys.exit("swarm_lt.py: " + what + " after %d s" % seconds)
        time.sleep(0.01)


def main(argv):
    if len(argv) < 7 or argv[0] != "swarm":
        sys.exit(__doc__)
    torrent, source_dir, out_dir = argv[1], argv[2], argv[3]
    ips, rate = None, None
    rest = argv[4:]
    while rest:
        flag = rest.pop(0)
        if flag == "--ips" and rest:
            ips = rest.pop(0).split(",")
        elif flag == "--rate" and rest:
            rate = int(rest.pop(0))
        else:
            sys.exit("swarm_lt.py: bad argument " + flag)
    if not ips or len(ips) < 2 or rate is None:
        sys.exit("swarm_lt.py: --ips (seeder and at least one leecher) and --rate are required")

    ti = lt.torrent_info(torrent)
    sessions = [make_session(ip, rate) for ip in ips]
    # flags=0: neither paused nor auto-managed, so each starts at once.
    seeder = sessions[0].add_torrent({"ti": ti, "save_path": source_dir, "flags": 0})
    handles = [seeder]
    for k in range(1, len(ips)):
        save = os.path.join(out_dir, str(k))
        os.makedirs(save, exist_ok=True)
        handles.append(sessions[k].add_torrent({"ti": ti, "save_path": save, "flags": 0}))
    wait_until(lambda: seeder.status().is_seeding, 300, "seeder not seeding")
    wait_until(lambda: all(s.listen_port() != 0 for s in sessions), 60, "sessions not listening")
    endpoints = [(ip, s.listen_port()) for ip, s in zip(ips, sessions)]
    emit({"ready": True})

    # Every leecher gets the full peer list, as a tracker would give it.
    for k in range(1, len(ips)):
        for j, ep in enumerate(endpoints):
            if j != k:
                handles[k].connect_peer(ep)
    emit({"start": True})

    finished = set()
    last_dial = time.monotonic()
    last_poll = time.monotonic()
    while len(finished) < len(ips) - 1:
        # Alerts say when a leecher finishes; asking every status costs a
        # round trip to each session's thread, so only once a second.
        poll_status = time.monotonic() - last_poll > 1
        if poll_status:
            last_poll = time.monotonic()
            sessions[0].pop_alerts()
        for k in range(1, len(ips)):
            if k in finished:
                continue
            for a in sessions[k].pop_alerts():
                if isinstance(a, lt.torrent_finished_alert):
                    finished.add(k)
            if k not in finished and poll_status and handles[k].status().is_finished:
                finished.add(k)
            if k in finished:
                emit({"finished": k})
        time.sleep(0.02)
        now = time.monotonic()
        if now - last_dial > 5:
            # Dials refused while a session was starting are retried;
            # connect_peer ignores peers already connected.
            last_dial = now
            for k in range(1, len(ips)):
                if k not in finished:
                    for j, ep in enumerate(endpoints):
                        if j != k:
                            handles[k].connect_peer(ep)
    # The seeder's counters settle once the last blocks are acknowledged.
    time.sleep(1)
    emit({
        "done": True,
        "seeder_uploaded": seeder.status().total_payload_upload,
        "leecher_uploaded": [h.status().total_payload_upload for h in handles[1:]],
    })
    for h in handles[1:]:
        h.flush_cache()
    time.sleep(0.5)


if __name__ == "__main__":
    main(sys.argv[1:])
