package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"shoal/engine/sources"
	"shoal/lsd"
)

// startLSD starts local service discovery (BEP 14) when the config asks
// for it. It announces our TCP listen port, so a session that does not
// listen has nothing to announce and runs none.
func (s *Session) startLSD() error {
	if !s.cfg.LSD {
		return nil
	}
	port := 0
	if s.listener != nil {
		port = s.listener.Addr().(*net.TCPAddr).Port
	}
	if port == 0 {
		s.log.Warn("local service discovery needs a listening port; not started")
		return nil
	}
	svc, err := lsd.New(lsd.Config{Port: port, Logger: s.log.With("part", "lsd")})
	if err != nil {
		return fmt.Errorf("engine: local service discovery: %w", err)
	}
	s.lsd = svc
	return nil
}

// lsdSource returns local service discovery as a peer source, or nil when
// the session runs none. Private torrents (BEP 27) must not ask.
func (s *Session) lsdSource() sources.Source {
	if s.lsd == nil {
		return nil
	}
	return lsdSource{svc: s.lsd}
}

// lsdSource reports the peers that announce a torrent on the local network
// while the torrent runs, and has the service announce it.
type lsdSource struct {
	svc *lsd.Service
}

var _ sources.Source = lsdSource{}

func (lsdSource) Name() string { return "lsd" }

// Run tracks the torrent until ctx ends. The service calls back from its
// socket reader, which must not wait for the torrent: peers are handed over
// through a small buffer, and dropped when it is full (they announce again).
func (l lsdSource) Run(ctx context.Context, t sources.Torrent, found func([]netip.AddrPort)) error {
	peersC := make(chan []netip.AddrPort, 16)
	untrack := l.svc.Track(t.InfoHash(), func(peers []netip.AddrPort) {
		select {
		case peersC <- peers:
		default:
		}
	})
	defer untrack()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case peers := <-peersC:
			found(peers)
		}
	}
}
