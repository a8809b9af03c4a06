package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"shoal/dht"
	"shoal/engine/sources"
	"shoal/peerwire"
)

// How often a torrent asks the DHT for peers and announces itself: BEP 5
// leaves it open; libtorrent and Transmission re-announce every 15 to 30
// minutes, and stored peers expire after 30.
const (
	dhtAnnounceInterval = 15 * time.Minute
	// dhtRetryFirst is the first wait after a lookup that found no peers
	// or could not announce: a node that just started is often still
	// bootstrapping. It doubles up to dhtAnnounceInterval.
	dhtRetryFirst = 5 * time.Second
)

// startDHT starts the session's DHT node when the config asks for one: on
// the UDP port of the TCP listener unless DHT.ListenAddr says otherwise, so
// that the port we send in PORT messages is also our listen port.
func (s *Session) startDHT() error {
	cfg := s.cfg.DHT
	if !cfg.Enabled {
		return nil
	}
	addr := cfg.ListenAddr
	if addr == "" {
		addr = "0.0.0.0:0"
		if s.listener != nil {
			addr = s.listener.Addr().String()
		}
	}
	bootstrap := cfg.Bootstrap
	if bootstrap == nil {
		bootstrap = dht.DefaultBootstrap
	}
	dc := dht.Config{
		ListenAddr: addr,
		Bootstrap:  bootstrap,
		ReadOnly:   cfg.ReadOnly,
		Logger:     s.log.With("part", "dht"),
	}
	if s.cfg.DataDir != "" {
		dc.StateFile = filepath.Join(s.cfg.DataDir, "dht.state")
	}
	node, err := dht.New(dc)
	if err != nil && cfg.ListenAddr == "" && s.listener != nil {
		// The UDP port twin of our TCP port is taken (by another program's
		// DHT, say): any port will do, peers learn it from PORT messages.
		host, _, _ := net.SplitHostPort(addr)
		dc.ListenAddr = net.JoinHostPort(host, "0")
		node, err = dht.New(dc)
	}
	if err != nil {
		return fmt.Errorf("engine: DHT: %w", err)
	}
	s.dht = node
	return nil
}

// DHT returns the session's DHT node, or nil when it runs none.
func (s *Session) DHT() *dht.Node { return s.dht }

// dhtSource returns the DHT as a peer source for a torrent, or nil when
// the session runs no DHT node. Private torrents (BEP 27) must not ask.
func (s *Session) dhtSource() sources.Source {
	if s.dht == nil {
		return nil
	}
	return dhtSource{node: s.dht}
}

// dhtNodes is the number of nodes in the DHT routing table; 0 without a
// DHT node.
func (s *Session) dhtNodes() int {
	if s.dht == nil {
		return 0
	}
	return s.dht.Stats().Nodes
}

// dhtSource finds a torrent's peers through the DHT and announces the
// torrent there while it runs.
type dhtSource struct {
	node *dht.Node
}

var _ sources.Source = dhtSource{}

func (dhtSource) Name() string { return "dht" }

// Run looks the torrent up (announcing our port when we accept peers)
// at once, then every dhtAnnounceInterval. A lookup that found no peer or
// reached no node is retried sooner, backing off from dhtRetryFirst.
func (d dhtSource) Run(ctx context.Context, t sources.Torrent, found func([]netip.AddrPort)) error {
	retry := dhtRetryFirst
	for {
		gotPeers := false
		report := func(peers []netip.AddrPort) {
			if len(peers) > 0 {
				gotPeers = true
				found(peers)
			}
		}
		var err error
		if port := t.Port(); port != 0 {
			err = d.node.Announce(ctx, t.InfoHash(), port, report)
		} else {
			err = d.node.GetPeers(ctx, t.InfoHash(), report)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := dhtAnnounceInterval
		if err != nil || !gotPeers {
			wait, retry = retry, min(2*retry, dhtAnnounceInterval)
		} else {
			retry = dhtRetryFirst
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// sendDHTPort tells a peer that runs a DHT node where ours listens (BEP 5:
// the PORT message, right after the handshake).
func (t *Torrent) sendDHTPort(p *peer) {
	if !p.dht || t.s.dht == nil || t.info.Private {
		return
	}
	port := t.s.dht.Addr().Port()
	if port == 0 {
		return
	}
	p.conn.Send(peerwire.Message{ID: peerwire.Port, Port: port})
}

// peerDHTPort handles a PORT message (BEP 5): the peer runs a DHT node on
// that UDP port of its address, which we ping to add it to our routing
// table, as BEP 5 asks.
func (t *Torrent) peerDHTPort(p *peer, m peerwire.Message) {
	if t.s.dht == nil || m.Port == 0 || t.info.Private {
		return
	}
	t.s.dht.AddNode(netip.AddrPortFrom(p.addr.Addr(), m.Port))
}

// discoverySources are the session-wide peer sources a torrent uses unless
// it is private (BEP 27: a private torrent gets its peers from its trackers
// only): the DHT and local service discovery, when they run.
func (s *Session) discoverySources(private bool) []sources.Source {
	if private {
		return nil
	}
	var out []sources.Source
	if src := s.dhtSource(); src != nil {
		out = append(out, src)
	}
	if src := s.lsdSource(); src != nil {
		out = append(out, src)
	}
	return out
}
