"""Drive python3-libtorrent with the DHT and PEX on loopback, for Shoal's
interop tests (interop/dht_test.go, interop/pex_test.go).

Run with /usr/bin/python3 (Debian's Python; the only one that imports
libtorrent here). Every command runs one libtorrent session listening
(TCP, and UDP for the DHT) on --listen IP:PORT, prints one JSON object per
line on stdout, and runs until its standard input is closed or its parent
process is gone (so start it with a pipe on stdin, not /dev/null).

  node --listen IP:PORT [--node IP:PORT]...
        a DHT node and nothing else. Prints {"event": "listening", ...},
        then {"event": "status", "dht_nodes": N} every second.
  seed TORRENT SAVE_PATH --listen IP:PORT [--node IP:PORT]...
        seeds TORRENT from SAVE_PATH (seed_mode: no hash check) and
        announces it to the DHT: every 2 s until its routing table has had
        a node for two rounds, then every dht_announce_interval (10 s).
  get MAGNET SAVE_PATH --listen IP:PORT [--node IP:PORT]...
        adds MAGNET as it is (a bare magnet: no tracker, no peer), finds
        peers through the DHT, fetches the metadata and the data, and
        prints {"event": "done", ...} once every piece is verified; then
        keeps running (and seeding) until stdin closes.
  swarm TORRENT SAVE_PATH --listen IP:PORT [--peer IP:PORT]... [--seed] [--no-pex]
        [--files I,J,...]
        a plain peer for the PEX tests, DHT off: seeds (--seed, seed_mode)
        or downloads (only the files whose indices --files lists, if
        given), dials every --peer (again while not connected), and prints
        status lines listing its connected peers. --no-pex turns ut_pex
        off for the torrent, so this peer neither sends nor learns peers
        by PEX. It keeps connections to peers that want nothing from it.

--node adds a DHT node with session.add_dht_node (again every 2 s while
the routing table is empty): a node given only as a bootstrap node never
enters libtorrent's routing table.

Events (the "event" key): listening, dht_bootstrap, dht_announce (a node
stored an announce: ip, port, info_hash), dht_reply (our own get_peers or
announce traversal ended: num_peers), dht_get_peers (a node asked for
peers), dht_announce_ok (seed, get: a node answered our announce_peer:
node, info_hash), dht_peers_from (seed, get: a node's get_peers reply
held peers: node, values), dht_error_reply (seed, get: a node answered our
announce_peer or get_peers with an error), peer_connect (a connection, either way), peer_disconnected (with the
peer id's first 8 bytes), peer (swarm only: a peer's first appearance
after its handshake, fields as in status lines), metadata_received,
torrent_finished, error (any error alert: message), status, done.
"""

import json
import os
import sys
import threading
import time
import warnings

import libtorrent as lt

# session.status() is deprecated in 2.0 but is the simple way to read the
# routing table size; keep its warning off stderr.
warnings.filterwarnings("ignore", category=DeprecationWarning)

ALERTS = (lt.alert.category_t.dht_notification
          | lt.alert.category_t.status_notification
          | lt.alert.category_t.error_notification
          | lt.alert.category_t.tracker_notification
          | lt.alert.category_t.connect_notification
          | lt.alert.category_t.storage_notification)


START = time.time()


def emit(obj):
    """Print one event, stamped with the seconds since we started."""
    obj["t"] = round(time.time() - START, 2)
    print(json.dumps(obj), flush=True)


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def dht_session(listen, dht=True):
    """A session for loopback tests. With dht, the DHT runs with the
    settings a network of nodes that all live on 127/8 needs:
    several nodes per IP in the routing table and in lookups (every node
    here is on loopback), a flood blocker that will not ban the test's
    nodes (it bans an IP after ~50 packets in 10 s by default), no
    public bootstrap routers, and a short re-announce interval. Transfers
    are TCP only and plaintext, as Shoal speaks them; no LSD, UPnP or
    NAT-PMP; outgoing connections leave from the listen address."""
    ip = listen.rpartition(":")[0]
    return lt.session({
        "listen_interfaces": listen,
        "outgoing_interfaces": ip,
        "enable_dht": dht,
        "dht_bootstrap_nodes": "",
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 100000,
        "dht_upload_rate_limit": 1000000,
        "dht_announce_interval": 10,
        "dht_ignore_dark_internet": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": ALERTS,
    })


class Lifetime:
    """Ends when stdin reaches EOF or the parent process is gone, whichever
    comes first: the test closes our stdin (or dies) and we exit."""

    def __init__(self):
        self.parent = os.getppid()
        self.closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        self.closed.set()

    def over(self):
        return self.closed.is_set() or os.getppid() != self.parent


def ep(ip, port):
    return "%s:%d" % (ip, port)


def pid_prefix(pid):
    """The first 8 bytes of a peer id ("-LT2080-", "-SH0100-"), as hex if
    they are not printable ASCII, "" if unknown (all zero: no handshake)."""
    b = pid.to_bytes()[:8]
    if not any(b):
        return ""
    if all(0x20 <= c < 0x7f for c in b):
        return b.decode("ascii")
    return b.hex()


def alert_event(a):
    """The JSON event for an alert worth reporting, or None."""
    if isinstance(a, lt.dht_bootstrap_alert):
        return {"event": "dht_bootstrap"}
    if isinstance(a, lt.dht_announce_alert):
        return {"event": "dht_announce", "ip": str(a.ip), "port": a.port, "info_hash": str(a.info_hash)}
    if isinstance(a, lt.dht_get_peers_alert):
        return {"event": "dht_get_peers", "info_hash": str(a.info_hash)}
    if isinstance(a, lt.dht_reply_alert):
        return {"event": "dht_reply", "num_peers": a.num_peers}
    if isinstance(a, lt.peer_connect_alert):
        return {"event": "peer_connect", "peer": ep(a.ip[0], a.ip[1])}
    if isinstance(a, lt.peer_disconnected_alert):
        return {"event": "peer_disconnected", "peer": ep(a.ip[0], a.ip[1]),
                "pid": pid_prefix(a.pid), "message": a.message()}
    if isinstance(a, lt.metadata_received_alert):
        return {"event": "metadata_received"}
    if isinstance(a, lt.torrent_finished_alert):
        return {"event": "torrent_finished"}
    if a.category() & lt.alert.category_t.error_notification:
        return {"event": "error", "type": type(a).__name__, "message": a.message()}
    return None


def compact_peer(b):
    """A BEP 5 compact IPv4 peer (6 bytes) as IP:PORT, or None."""
    if len(b) != 6:
        return None
    return ep(".".join(str(x) for x in b[:4]), int.from_bytes(b[4:], "big"))


class PacketTracer:
    """Follows our own DHT queries in dht_pkt_alerts (dht_log_notification)
    to report how other nodes answered them: which node took an
    announce_peer, which node returned which peers for get_peers, and any
    error reply. libtorrent has no alert for these, and they are what tells
    a Shoal node that misbehaves from one that is merely slow."""

    def __init__(self):
        self.pending = {}  # (node, transaction id) -> (query, info hash)

    def event(self, a):
        text = a.message()
        if not (text.startswith("==>") or text.startswith("<==")) or "[" not in text:
            return None
        node = text[text.index("[") + 1:text.index("]")]
        try:
            msg = lt.bdecode(bytes(a.pkt_buf))
        except Exception:
            return None
        if not isinstance(msg, dict):
            return None
        kind, tid = msg.get(b"y"), msg.get(b"t")
        if text.startswith("==>"):
            if kind == b"q" and msg.get(b"q") in (b"announce_peer", b"get_peers"):
                args = msg.get(b"a") or {}
                ih = args.get(b"info_hash", b"")
                self.pending[(node, tid)] = (msg[b"q"].decode(), ih.hex())
            return None
        query = self.pending.pop((node, tid), None)
        if query is None:
            return None
        name, ih = query
        if kind == b"e":
            err = msg.get(b"e")
            return {"event": "dht_error_reply", "node": node, "query": name, "info_hash": ih,
                    "message": repr(err)}
        if kind != b"r":
            return None
        if name == "announce_peer":
            return {"event": "dht_announce_ok", "node": node, "info_hash": ih}
        values = (msg.get(b"r") or {}).get(b"values") or []
        peers = [p for p in (compact_peer(v) for v in values if isinstance(v, bytes)) if p]
        if not peers:
            return None
        return {"event": "dht_peers_from", "node": node, "info_hash": ih, "values": peers}


def drain(ses, wait_ms, tracer=None):
    """Wait up to wait_ms for alerts and print the interesting ones;
    returns the events printed."""
    ses.wait_for_alert(wait_ms)
    events = []
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_pkt_alert):
            ev = tracer.event(a) if tracer else None
        else:
            ev = alert_event(a)
        if ev is not None:
            emit(ev)
            events.append(ev)
    return events


class NodeKeeper:
    """Gives the session its --node nodes with add_dht_node, and again
    every 2 s while its routing table is empty: add_dht_node sends one
    ping, and a node that was not listening yet (or lost that packet) is
    never tried again, leaving the session at 0 nodes for good."""

    def __init__(self, ses, nodes):
        self.ses, self.nodes, self.last = ses, nodes, 0.0
        self.tick()

    def tick(self):
        now = time.time()
        if not self.nodes or now - self.last < 2:
            return
        if self.last and self.ses.status().dht_nodes > 0:
            return
        self.last = now
        for n in self.nodes:
            self.ses.add_dht_node(n)


def peers_of(h):
    """The connected peers of a torrent: address, peer id prefix, client,
    who dialed, and how we learned of them."""
    out = []
    for p in h.get_peer_info():
        if p.flags & lt.peer_info.connecting or p.flags & lt.peer_info.handshake:
            continue
        out.append({
            "addr": ep(p.ip[0], p.ip[1]),
            "pid": pid_prefix(p.pid),
            "client": p.client.decode("utf-8", "replace") if isinstance(p.client, bytes) else p.client,
            "outgoing": bool(p.flags & lt.peer_info.outgoing_connection),
            "pex": bool(p.source & lt.peer_info.pex),
            "dht": bool(p.source & lt.peer_info.dht),
            "seed": bool(p.flags & lt.peer_info.seed),
        })
    return out


def status_line(ses, h=None):
    line = {"event": "status", "dht_nodes": ses.status().dht_nodes if ses.is_dht_running() else 0}
    if h is not None:
        st = h.status()
        line.update({
            "state": str(st.state),
            "has_metadata": st.has_metadata,
            "progress": round(st.progress, 4),
            "pieces": st.num_pieces,
            "downloaded": st.total_payload_download,
            "uploaded": st.total_payload_upload,
            "seeding": st.is_seeding,
            "peers": peers_of(h),
            "error": str(st.errc.message()) if st.errc.value() else None,
        })
    return line


def listening(ses, listen):
    emit({"event": "listening", "listen": ep(listen.rpartition(":")[0], ses.listen_port()),
          "dht": ses.is_dht_running()})


def node(listen, nodes):
    life = Lifetime()
    ses = dht_session(listen)
    keeper = NodeKeeper(ses, nodes)
    listening(ses, listen)
    last = 0.0
    while not life.over():
        drain(ses, 200)
        keeper.tick()
        if time.time() - last >= 1:
            last = time.time()
            emit(status_line(ses))


def trace_packets(ses):
    ses.apply_settings({"alert_mask": ALERTS | lt.alert.category_t.dht_log_notification})
    return PacketTracer()


def seed(path, save_path, listen, nodes):
    life = Lifetime()
    ses = dht_session(listen)
    tracer = trace_packets(ses)
    keeper = NodeKeeper(ses, nodes)
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path, "flags": lt.torrent_flags.seed_mode})
    listening(ses, listen)
    # libtorrent announces a torrent when it is added and then every
    # dht_announce_interval; an announce made before the routing table has
    # a node reaches nobody. So announce every 2 s until the table has had
    # a node for two of those rounds.
    rounds_with_nodes = 0
    last_announce = last_status = 0.0
    while not life.over():
        drain(ses, 200, tracer)
        keeper.tick()
        now = time.time()
        if rounds_with_nodes < 2 and now - last_announce >= 2:
            last_announce = now
            if ses.status().dht_nodes > 0:
                rounds_with_nodes += 1
            h.force_dht_announce()
        if now - last_status >= 1:
            last_status = now
            emit(status_line(ses, h))


def get(uri, save_path, listen, nodes, timeout):
    life = Lifetime()
    ses = dht_session(listen)
    tracer = trace_packets(ses)
    keeper = NodeKeeper(ses, nodes)
    params = lt.parse_magnet_uri(uri)
    params.save_path = save_path
    h = ses.add_torrent(params)
    listening(ses, listen)
    deadline = time.time() + timeout
    last_announce = last_status = 0.0
    done = False
    while not life.over():
        drain(ses, 200, tracer)
        keeper.tick()
        now = time.time()
        st = h.status()
        # Ask the DHT again every 2 s until a peer is connected: the first
        # lookup may run before the routing table has any node.
        if not done and st.num_peers == 0 and now - last_announce >= 2:
            last_announce = now
            h.force_dht_announce()
        if now - last_status >= 1:
            last_status = now
            emit(status_line(ses, h))
        if not done and st.is_seeding:
            done = True
            line = status_line(ses, h)
            line["event"] = "done"
            line["info_hash"] = str(h.info_hashes().v1)
            line["name"] = h.status().name
            emit(line)
        if not done and now > deadline:
            emit({"event": "error", "type": "timeout", "message": "not finished after %g s" % timeout})
            sys.exit("lt_dht.py get: not finished after %g s" % timeout)
        if st.errc.value():
            sys.exit("lt_dht.py get: torrent error: " + st.errc.message())


def swarm(path, save_path, listen, peers, seeding, no_pex, files):
    life = Lifetime()
    ses = dht_session(listen, dht=False)
    # Keep connections between peers that have all they want (seeds, and
    # a peer whose wanted files are complete): PEX lists only connected
    # peers, and libtorrent otherwise closes such "redundant" connections.
    # A peer that drops us right after connecting (seen once at start-up
    # under load) would otherwise not be dialled again for 60 s
    # (min_reconnect_time), longer than the tests wait.
    ses.apply_settings({"close_redundant_connections": False, "min_reconnect_time": 1})
    flags = lt.torrent_flags.default_flags
    if seeding:
        flags |= lt.torrent_flags.seed_mode
    if no_pex:
        flags |= lt.torrent_flags.disable_pex
    ti = lt.torrent_info(path)
    params = {"ti": ti, "save_path": save_path, "flags": flags}
    if files is not None:
        params["file_priorities"] = [4 if i in files else 0 for i in range(ti.num_files())]
    h = ses.add_torrent(params)
    listening(ses, listen)
    last = 0.0
    seen = set()
    while not life.over():
        drain(ses, 100)
        # Report each peer once as soon as its handshake is done: a
        # newcomer may finish and leave between two status lines.
        for peer in peers_of(h):
            key = (peer["addr"], peer["pid"])
            if key not in seen:
                seen.add(key)
                peer["event"] = "peer"
                emit(peer)
        if time.time() - last >= 1:
            last = time.time()
            connected = {p.ip for p in h.get_peer_info()}
            for p in peers:
                if p not in connected:
                    h.connect_peer(p)
            emit(status_line(ses, h))


def parse_options(rest, allowed):
    opts = {"listen": None, "node": [], "peer": [], "timeout": 90.0, "seed": False, "no-pex": False,
            "files": None}
    while rest:
        name = rest[0][2:] if rest[0].startswith("--") else None
        if name not in allowed:
            sys.exit("lt_dht.py: unknown option " + rest[0])
        if name in ("seed", "no-pex"):
            opts[name] = True
            rest = rest[1:]
            continue
        if len(rest) < 2:
            sys.exit("lt_dht.py: %s needs a value" % rest[0])
        if name in ("node", "peer"):
            opts[name].append(parse_endpoint(rest[1]))
        elif name == "timeout":
            opts[name] = float(rest[1])
        elif name == "files":
            opts[name] = {int(i) for i in rest[1].split(",")}
        else:
            opts[name] = rest[1]
        rest = rest[2:]
    if opts["listen"] is None:
        sys.exit("lt_dht.py: --listen IP:PORT is required")
    return opts


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "node":
        o = parse_options(argv[1:], ("listen", "node"))
        node(o["listen"], o["node"])
    elif cmd == "seed" and len(argv) >= 3:
        o = parse_options(argv[3:], ("listen", "node"))
        seed(argv[1], argv[2], o["listen"], o["node"])
    elif cmd == "get" and len(argv) >= 3:
        o = parse_options(argv[3:], ("listen", "node", "timeout"))
        get(argv[1], argv[2], o["listen"], o["node"], o["timeout"])
    elif cmd == "swarm" and len(argv) >= 3:
        o = parse_options(argv[3:], ("listen", "peer", "seed", "no-pex", "files"))
        swarm(argv[1], argv[2], o["listen"], o["peer"], o["seed"], o["no-pex"], o["files"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
