package lsd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"shoal/metainfo"
)

// DefaultInterval is BEP 14's re-announce period: "a client should send a
// LSD announce every 5 minutes".
const DefaultInterval = 5 * time.Minute

// Timing rules, variables so the namespace test can run in seconds.
var (
	// minAnnounceGap is the shortest time between two announces of one
	// torrent, and between two reports of one peer for one torrent. BEP 14:
	// "a client should send no more than 1 announce per minute".
	minAnnounceGap = time.Minute
	// coalesceDelay is how long Track waits before sending, so that torrents
	// tracked together (e.g. at start-up) share packets.
	coalesceDelay = 200 * time.Millisecond
)

// maxReported bounds the table that suppresses repeated peer reports; a
// flood of announces from many addresses cannot grow it past this.
const maxReported = 4096

// Config configures a Service.
type Config struct {
	Port      int           // our BitTorrent (TCP) listen port, announced to others
	Interface string        // interface to join the group on and send from; "" = the system default
	Group     string        // multicast group "addr:port"; default Group4
	Interval  time.Duration // re-announce period; default DefaultInterval, never more than once a minute
	Logger    *slog.Logger  // nil: discard
}

// Service announces tracked torrents on one multicast group and reports the
// local peers that announce them. Its methods are safe for concurrent use.
type Service struct {
	cfg    Config
	group  netip.AddrPort
	conn   *net.UDPConn
	cookie string
	log    *slog.Logger
	minGap time.Duration // minAnnounceGap when the Service was made

	mu       sync.Mutex
	torrents map[metainfo.InfoHash]*tracked
	nextID   uint64
	reported map[report]time.Time // last time a peer was reported for a torrent

	sendFailing bool // the last send failed; only the announce goroutine uses it

	wakeC     chan struct{} // Track asks the announcer to recompute its schedule
	closeC    chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// tracked is one torrent the Service announces.
type tracked struct {
	found    map[uint64]func([]netip.AddrPort) // one per Track call
	due      time.Time                         // when the next announce is wanted
	lastSent time.Time                         // when it was last announced
}

type report struct {
	ih   metainfo.InfoHash
	peer netip.AddrPort
}

// New joins the multicast group and starts the Service's goroutines.
func New(cfg Config) (*Service, error) {
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("lsd: port %d out of range 1-65535", cfg.Port)
	}
	if cfg.Group == "" {
		cfg.Group = Group4
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	group, err := netip.ParseAddrPort(cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("lsd: group %q: %w", cfg.Group, err)
	}
	group = netip.AddrPortFrom(group.Addr().Unmap(), group.Port())
	if !group.Addr().IsMulticast() {
		return nil, fmt.Errorf("lsd: group %q is not a multicast address", cfg.Group)
	}
	network := "udp4"
	if group.Addr().Is6() {
		network = "udp6"
	}
	var ifi *net.Interface
	if cfg.Interface != "" {
		if ifi, err = net.InterfaceByName(cfg.Interface); err != nil {
			return nil, fmt.Errorf("lsd: interface %q: %w", cfg.Interface, err)
		}
	}
	conn, err := net.ListenMulticastUDP(network, ifi, net.UDPAddrFromAddrPort(group))
	if err != nil {
		where := "the default interface"
		if cfg.Interface != "" {
			where = "interface " + cfg.Interface
		}
		return nil, fmt.Errorf("lsd: join %s on %s: %w", group, where, err)
	}
	if err := setMulticastOptions(conn, group.Addr().Is6()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lsd: multicast socket options: %w", err)
	}
	s := newService(cfg, conn, group)
	s.start()
	return s, nil
}

// newService builds a Service around an open socket without starting it;
// cfg has its defaults filled in.
func newService(cfg Config, conn *net.UDPConn, group netip.AddrPort) *Service {
	var cookie [8]byte
	rand.Read(cookie[:]) // crypto/rand.Read does not fail
	return &Service{
		cfg:      cfg,
		group:    group,
		conn:     conn,
		cookie:   hex.EncodeToString(cookie[:]),
		log:      cfg.Logger.With("component", "lsd", "group", group.String()),
		minGap:   minAnnounceGap,
		torrents: make(map[metainfo.InfoHash]*tracked),
		reported: make(map[report]time.Time),
		wakeC:    make(chan struct{}, 1),
		closeC:   make(chan struct{}),
	}
}

func (s *Service) start() {
	s.wg.Add(2)
	go s.readLoop()
	go s.announceLoop()
}

// Close leaves the group and waits for the Service's goroutines to end.
// Calling it again returns the first result.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.closeC)
		s.closeErr = s.conn.Close()
		s.wg.Wait()
	})
	return s.closeErr
}

// Track announces ih shortly and then every Interval (no more than once a
// minute, BEP 14), and calls found with each peer that announces ih: its UDP
// source address with the port it announced. A peer is reported at most once
// a minute per torrent. found runs on the Service's receive goroutine, so it
// must not block; it may call untrack but not Close. untrack stops this
// Track's reports, and the announces once no Track for ih remains.
func (s *Service) Track(ih metainfo.InfoHash, found func([]netip.AddrPort)) (untrack func()) {
	s.mu.Lock()
	t := s.torrents[ih]
	if t == nil {
		t = &tracked{found: make(map[uint64]func([]netip.AddrPort))}
		s.torrents[ih] = t
	}
	id := s.nextID
	s.nextID++
	t.found[id] = found
	t.due = time.Now().Add(coalesceDelay)
	s.mu.Unlock()
	s.wake()

	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(t.found, id)
			if len(t.found) == 0 && s.torrents[ih] == t {
				delete(s.torrents, ih)
			}
		})
	}
}

func (s *Service) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default:
	}
}

// announceLoop sends the announces that are due and sleeps until the next.
func (s *Service) announceLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.sendDue(time.Now())
		timer.Reset(time.Until(next))
		select {
		case <-s.closeC:
			return
		case <-s.wakeC:
		case <-timer.C:
		}
	}
}

// sendDue announces every torrent whose time has come, MaxInfoHashes to a
// packet, and returns when the next one will be due. Torrents due within a
// quarter Interval ride along if the last packet has room (and the per-minute
// limit allows), so torrents tracked at different times drift into shared
// packets instead of each costing a packet of its own.
func (s *Service) sendDue(now time.Time) (next time.Time) {
	var due, early []metainfo.InfoHash
	s.mu.Lock()
	for ih, t := range s.torrents {
		switch at := t.sendAt(s.minGap); {
		case !at.After(now):
			due = append(due, ih)
		case !at.After(now.Add(s.cfg.Interval/4)) && !t.lastSent.Add(s.minGap).After(now):
			early = append(early, ih)
		}
	}
	if room := (MaxInfoHashes - len(due)%MaxInfoHashes) % MaxInfoHashes; len(due) > 0 && room > 0 {
		slices.SortFunc(early, func(a, b metainfo.InfoHash) int {
			return s.torrents[a].sendAt(s.minGap).Compare(s.torrents[b].sendAt(s.minGap))
		})
		due = append(due, early[:min(room, len(early))]...)
	}
	next = now.Add(time.Hour)
	for _, ih := range due {
		t := s.torrents[ih]
		t.lastSent = now
		t.due = now.Add(s.cfg.Interval)
	}
	for _, t := range s.torrents {
		if at := t.sendAt(s.minGap); at.Before(next) {
			next = at
		}
	}
	s.mu.Unlock()

	slices.SortFunc(due, func(a, b metainfo.InfoHash) int { return slices.Compare(a[:], b[:]) })
	for batch := range slices.Chunk(due, MaxInfoHashes) {
		pkt := Announce{Host: s.cfg.Group, Port: s.cfg.Port, InfoHashes: batch, Cookie: s.cookie}.Marshal()
		_, err := s.conn.WriteToUDPAddrPort(pkt, s.group)
		switch {
		case err != nil && !s.sendFailing:
			s.sendFailing = true
			s.log.Warn("lsd: cannot send announces", "err", err)
		case err != nil:
			s.log.Debug("lsd: send announce", "hashes", len(batch), "err", err)
		case s.sendFailing:
			s.sendFailing = false
			s.log.Info("lsd: sending announces again")
		}
	}
	return next
}

// sendAt is when t may next be announced: when it is due, but not within
// minGap of the last announce.
func (t *tracked) sendAt(minGap time.Duration) time.Time {
	if t.lastSent.IsZero() {
		return t.due
	}
	if earliest := t.lastSent.Add(minGap); earliest.After(t.due) {
		return earliest
	}
	return t.due
}

// readLoop receives announces until Close.
func (s *Service) readLoop() {
	defer s.wg.Done()
	// One byte more than allowed, so an oversized datagram is seen as such
	// rather than silently truncated into a valid one.
	buf := make([]byte, MaxPacketSize+1)
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("lsd: receive", "err", err)
			select {
			case <-s.closeC:
				return
			case <-time.After(10 * time.Millisecond): // do not spin on a persistent error
			}
			continue
		}
		s.handlePacket(src, buf[:n], time.Now())
	}
}

// handlePacket reports the sender of one announce to the Tracks of the info
// hashes it names. Our own announces (looped back, recognised by the cookie)
// and hashes nobody tracks are ignored.
func (s *Service) handlePacket(src netip.AddrPort, data []byte, now time.Time) {
	a, err := ParseAnnounce(data)
	if err != nil {
		s.log.Debug("lsd: bad announce", "from", src, "err", err)
		return
	}
	if a.Cookie == s.cookie {
		return
	}
	// BEP 14: the peer's address is the UDP source address; the port is the
	// one it announced.
	peer := netip.AddrPortFrom(src.Addr().Unmap(), uint16(a.Port))
	var calls []func([]netip.AddrPort)
	s.mu.Lock()
	for _, ih := range a.InfoHashes {
		t := s.torrents[ih]
		if t == nil {
			continue
		}
		key := report{ih: ih, peer: peer}
		if last, ok := s.reported[key]; ok && now.Sub(last) < s.minGap {
			continue
		}
		s.rememberReport(key, now)
		for _, f := range t.found {
			if f != nil {
				calls = append(calls, f)
			}
		}
	}
	s.mu.Unlock()
	for _, f := range calls {
		f([]netip.AddrPort{peer})
	}
}

// rememberReport records a report, first dropping expired entries when the
// table is full (and everything if they are all fresh, which only a flood
// can cause). Caller holds s.mu.
func (s *Service) rememberReport(key report, now time.Time) {
	if len(s.reported) >= maxReported {
		for k, at := range s.reported {
			if now.Sub(at) >= s.minGap {
				delete(s.reported, k)
			}
		}
		if len(s.reported) >= maxReported {
			clear(s.reported)
		}
	}
	s.reported[key] = now
}
