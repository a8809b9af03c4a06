package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"shoal/dht/krpc"
	"shoal/dht/traversal"
)

// Node is one DHT node on one UDP socket. Its methods are safe for
// concurrent use.
type Node struct {
	cfg     Config
	log     *slog.Logger
	conn    net.PacketConn
	ownConn bool           // we opened conn, so Close closes it
	addr    netip.AddrPort // local address of conn
	v6      bool           // the socket's family (BEP 32: one DHT per family)
	id      ID

	ctx    context.Context // ends on Close; parent of background lookups
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	once   sync.Once

	table   *table
	tokens  *tokenSecrets
	store   *peerStore
	out     *rate.Limiter  // outgoing queries
	sources *sourceLimiter // incoming queries per IP
	txs     transactions

	savedNodes []traversal.Node // nodes from the state file, tried by Bootstrap

	bootMu      sync.Mutex       // guards the two below
	bootAddrs   []traversal.Node // Config.Bootstrap resolved
	bootExpires time.Time        // when bootAddrs must be resolved again
	refreshing  atomic.Bool      // a bucket refresh lookup is running
	external    atomic.Value     // netip.AddrPort: our address as the last reply's "ip" said (BEP 42)
	pingSize    int              // bytes of one of our ping queries

	stats counters
}

// counters are the running totals behind Stats.
type counters struct {
	queriesIn, queriesOut, repliesIn, repliesOut atomic.Int64
	errorsIn, errorsOut, timeouts, dropped       atomic.Int64
	malformed, trimmed, badTokens                atomic.Int64
}

// New opens the socket (unless cfg.Conn is set), loads the state file,
// starts the reader and maintenance goroutines and, when there is anything
// to bootstrap from, a background bootstrap.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, conn: cfg.Conn}
	if n.conn == nil {
		if cfg.ListenAddr == "" {
			return nil, errors.New("dht: neither ListenAddr nor Conn is set")
		}
		c, err := net.ListenPacket(listenNetwork(cfg.ListenAddr), cfg.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("dht: listen %s: %w", cfg.ListenAddr, err)
		}
		n.conn, n.ownConn = c, true
	}
	ua, ok := n.conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		n.closeConn()
		return nil, fmt.Errorf("dht: socket address %v is not UDP", n.conn.LocalAddr())
	}
	n.addr = ua.AddrPort()
	n.addr = netip.AddrPortFrom(n.addr.Addr().Unmap(), n.addr.Port())
	n.v6 = n.addr.Addr().Is6()

	n.id = cfg.ID
	if cfg.StateFile != "" {
		st, err := loadState(cfg.StateFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			n.log.Warn("dht: state file ignored", "file", cfg.StateFile, "err", err)
		}
		// A saved id that BEP 42 would reject at our public address is
		// worth less than a fresh secure one.
		if n.id == (ID{}) && (!publicAddr(n.addr.Addr()) || VerifyID(st.id, n.addr.Addr())) {
			n.id = st.id
		}
		for _, c := range st.nodes {
			if n.usable(c.Addr) {
				n.savedNodes = append(n.savedNodes, c)
			}
		}
	}
	if n.id == (ID{}) {
		n.id = randomID()
		if publicAddr(n.addr.Addr()) {
			n.id = SecureID(n.addr.Addr())
		}
	}
	now := time.Now()
	n.table = newTable(n.id, now)
	n.tokens = newTokenSecrets()
	n.store = newPeerStore(cfg.MaxTorrents, cfg.MaxPeersPerTorrent, cfg.PeerTTL)
	n.out = rate.NewLimiter(rate.Limit(cfg.QueryRate), cfg.QueryBurst)
	n.sources = newSourceLimiter(cfg.SourceRate, cfg.SourceBurst, cfg.MaxSources)
	n.txs.init()
	ping, err := n.queryMsg("tt", krpc.MethodPing, &krpc.Args{}).Encode()
	if err != nil {
		n.closeConn()
		return nil, fmt.Errorf("dht: encode a ping: %w", err)
	}
	n.pingSize = len(ping)
	n.ctx, n.cancel = context.WithCancel(context.Background())

	n.wg.Add(2)
	go n.readLoop()
	go n.maintain()
	if len(cfg.Bootstrap) > 0 || len(n.savedNodes) > 0 {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.Bootstrap(n.ctx); err != nil && n.ctx.Err() == nil {
				n.log.Info("dht: bootstrap", "err", err)
			}
		}()
	}
	return n, nil
}

// listenNetwork picks the socket family for a listen address: one Node
// serves one DHT (BEP 32), so a host-less ":port" means IPv4 rather than a
// dual-stack socket whose family would be ambiguous.
func listenNetwork(hostPort string) string {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "udp"
	}
	if host == "" {
		return "udp4"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Is4() {
			return "udp4"
		}
		return "udp6"
	}
	return "udp"
}

// Close stops every goroutine of the node, fails the queries in flight,
// saves the state file and closes the socket if New opened it.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		n.closed.Store(true)
		n.cancel()
		if n.ownConn {
			n.closeConn()
		} else {
			// Wake the reader without closing a socket that is not ours.
			n.conn.SetReadDeadline(time.Unix(1, 0))
		}
		n.wg.Wait()
		n.txs.failAll(net.ErrClosed)
		if n.cfg.StateFile != "" {
			err = n.saveState()
		}
	})
	return err
}

// closeConn closes the socket if New opened it.
func (n *Node) closeConn() {
	if n.ownConn {
		n.conn.Close()
	}
}

// Addr returns the local address of the node's socket.
func (n *Node) Addr() netip.AddrPort { return n.addr }

// ID returns the node's id.
func (n *Node) ID() ID { return n.id }

// ExternalAddr returns our address as other nodes last reported it in the
// "ip" field of their replies (BEP 42), or the zero value.
func (n *Node) ExternalAddr() netip.AddrPort {
	a, _ := n.external.Load().(netip.AddrPort)
	return a
}

// Stats returns the node's table and store sizes and its counters.
func (n *Node) Stats() Stats {
	now := time.Now()
	var s Stats
	s.Nodes, s.GoodNodes, s.Buckets = n.table.counts(now)
	s.Torrents, s.Peers = n.store.counts()
	s.QueriesIn = n.stats.queriesIn.Load()
	s.QueriesOut = n.stats.queriesOut.Load()
	s.RepliesIn = n.stats.repliesIn.Load()
	s.RepliesOut = n.stats.repliesOut.Load()
	s.ErrorsIn = n.stats.errorsIn.Load()
	s.Errors = n.stats.errorsOut.Load()
	s.Timeouts = n.stats.timeouts.Load()
	s.Dropped = n.stats.dropped.Load()
	s.Malformed = n.stats.malformed.Load()
	s.Trimmed = n.stats.trimmed.Load()
	s.BadTokens = n.stats.badTokens.Load()
	s.Sources = n.sources.size()
	return s
}

// AddNode pings addr and inserts the node into the routing table if it
// answers (BEP 5's PORT message asks for exactly this). It does not wait.
func (n *Node) AddNode(addr netip.AddrPort) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !n.usable(addr) {
		return
	}
	n.pingAsync(addr, nil)
}

// usable reports whether addr is a contact this node can talk to: valid,
// a non-zero port, our address family and not ourselves.
func (n *Node) usable(addr netip.AddrPort) bool {
	ip := addr.Addr()
	return addr.IsValid() && addr.Port() != 0 && ip.Is6() == n.v6 && !ip.IsUnspecified() &&
		!ip.IsMulticast() && addr != n.addr
}

// readLoop reads datagrams until Close and dispatches them.
func (n *Node) readLoop() {
	defer n.wg.Done()
	buf := make([]byte, krpc.MaxDatagram+1)
	for {
		size, from, err := n.conn.ReadFrom(buf)
		if err != nil {
			if n.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Debug("dht: read", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. ICMP errors surfaced on Linux; do not spin
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		n.dispatch(buf[:size], src)
	}
}

// dispatch handles one datagram from src.
func (n *Node) dispatch(b []byte, src netip.AddrPort) {
	if len(b) > krpc.MaxDatagram {
		n.stats.malformed.Add(1)
		return
	}
	m, err := krpc.Decode(b)
	if m.Y == krpc.KindQuery {
		n.handleQuery(m, err, src, len(b))
		return
	}
	if err != nil {
		n.stats.malformed.Add(1)
		return
	}
	n.handleReply(m, src)
}

// send encodes m and writes it to addr.
func (n *Node) send(addr netip.AddrPort, m *krpc.Msg) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	return n.write(addr, b)
}

func (n *Node) write(addr netip.AddrPort, b []byte) error {
	_, err := n.conn.WriteTo(b, net.UDPAddrFromAddrPort(addr))
	return err
}
