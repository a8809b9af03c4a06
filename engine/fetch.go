package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"shoal/engine/peerconn"
	"shoal/engine/sources"
	"shoal/metainfo"
	"shoal/peerwire"
	"shoal/tracker"
)

// FetchOptions says where FetchMetadata looks for peers, besides the
// magnet link's own trackers (tr) and peers (x.pe) and the session's DHT.
type FetchOptions struct {
	// Peers are addresses to connect to (such as --peer).
	Peers []netip.AddrPort
	// Sources find more peers.
	Sources []sources.Source
	// Trackers are tracker URLs to announce to besides the magnet's, each
	// a tier of its own; NoTrackers uses no tracker at all.
	Trackers   []string
	NoTrackers bool
	// Progress, if set, is called on FetchMetadata's goroutine a few times
	// a second while the fetch runs. It must return quickly.
	Progress func(FetchProgress)

	// inspect, if set, sees the fetch's state when it ends (tests).
	inspect func(*fetcher)
}

// FetchProgress describes a metadata fetch under way.
type FetchProgress struct {
	// Peers is the number of connected peers that offer the metadata
	// (BEP 9 ut_metadata).
	Peers int
	// Known is the number of peer addresses known.
	Known int
	// DHTNodes is the number of nodes in the session's DHT routing table.
	DHTNodes int
	// Received and Size are the bytes of metadata received so far and its
	// size; Size is 0 until a peer has told it.
	Received, Size int64
}

// Limits of a metadata fetch.
const (
	// maxFetchConns bounds a fetch's connections, established or being
	// made: the metadata is small, and a few peers are enough.
	maxFetchConns = 20
	// fetchPeerRequests bounds the metadata requests outstanding with one
	// peer, so they spread over several.
	fetchPeerRequests = 4
	// fetchGatherWait is how long the first request waits for more peers
	// while connections are still being made, so that the pieces spread
	// over several peers from the start.
	fetchGatherWait = 300 * time.Millisecond
	// fetchProgressEvery bounds how often Progress is called.
	fetchProgressEvery = 250 * time.Millisecond
	// fetchHandshakeWait is how long a peer may take to send its
	// extended handshake (BEP 10) before its slot goes to another.
	fetchHandshakeWait = 20 * time.Second
	// fetchUnknownLeft is the "left" we announce to trackers while the
	// size is unknown: not 0, which would make us a seed to them; 16 KiB
	// as libtorrent does.
	fetchUnknownLeft = 16 << 10
)

// fetchRequestTimeout is how long a peer may take to answer a metadata
// request before the piece is asked of another peer; a variable for tests.
var fetchRequestTimeout = 10 * time.Second

// ErrNoV1InfoHash is returned by FetchMetadata for a magnet link that names
// only a v2 (BEP 52) torrent.
var ErrNoV1InfoHash = errors.New("engine: the magnet link has no v1 info hash (urn:btih)")

// FetchMetadata gets a magnet link's metadata, the torrent's info
// dictionary, from peers (BEP 9) and returns it as a MetaInfo with the
// link's trackers, one tier each, and web seeds; the result can be given
// to AddTorrent. Peers come from the link's trackers and x.pe addresses,
// from opts, and from the session's DHT when it runs one. Pieces of the
// metadata are asked of several peers at once; the whole must hash to the
// link's info hash and be at most peerwire.MaxMetadataSize bytes. A peer
// whose data fails the check is disconnected and not asked again.
//
// FetchMetadata returns when it has the metadata, when ctx ends (with
// ctx's error) or when the session closes (ErrClosed); every goroutine it
// started has ended by then. Incoming connections for the info hash join
// the fetch while it runs (fetch_incoming.go).
func (s *Session) FetchMetadata(ctx context.Context, m *metainfo.Magnet, opts FetchOptions) (*metainfo.MetaInfo, error) {
	if !m.HasV1 {
		return nil, ErrNoV1InfoHash
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if t, ok := s.torrents[m.InfoHash]; ok {
		// We have it already: no peer needs to send it.
		s.mu.Unlock()
		return t.mi, nil
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	f := newFetcher(ctx, s, m.InfoHash)
	defer f.shutdown()
	defer s.registerFetch(f)() // before shutdown: no connection arrives after it
	if opts.inspect != nil {
		defer opts.inspect(f)
	}
	f.startSources(s.fetchSources(m, opts, f.peerID))
	info, err := f.run(opts.Progress)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("engine: fetching metadata of %s: %w (%s)", m.InfoHash, err, f.summary())
	}
	mi, err := metainfo.FromInfoBytes(info)
	if err != nil {
		return nil, fmt.Errorf("engine: metadata of %s: %w", m.InfoHash, err)
	}
	s.rememberFetchedPeers(m.InfoHash, f.dialablePeers())
	for _, tr := range m.Trackers {
		mi.AnnounceList = append(mi.AnnounceList, []string{tr})
	}
	if len(mi.AnnounceList) > 0 {
		mi.Announce = mi.AnnounceList[0][0]
	}
	mi.URLList = append([]string(nil), m.WebSeeds...)
	return mi, nil
}

// fetchSources lists where a fetch finds peers.
func (s *Session) fetchSources(m *metainfo.Magnet, opts FetchOptions, peerID peerwire.PeerID) []sources.Source {
	srcs := append([]sources.Source(nil), opts.Sources...)
	if !opts.NoTrackers {
		if tiers := tracker.Tiers("", nil, append(append([]string(nil), m.Trackers...), opts.Trackers...)...); len(tiers) > 0 {
			srcs = append(srcs, tracker.NewSource(tiers, tracker.SourceConfig{
				PeerID:      peerID,
				StopTimeout: s.cfg.TrackerStopTimeout,
			}))
		}
	}
	if len(m.Peers) > 0 {
		srcs = append(srcs, magnetPeers(m.Peers))
	}
	if len(opts.Peers) > 0 {
		srcs = append(srcs, sources.Manual{Peers: opts.Peers})
	}
	// A magnet link has no private flag (BEP 27 applies to the info
	// dictionary, which we do not have yet): the DHT and local discovery
	// may be asked.
	return append(srcs, s.discoverySources(false)...)
}

// magnetPeers is a source of a magnet link's x.pe addresses (BEP 9):
// "host:port" with an IP literal or a host name, resolved when it runs.
type magnetPeers []string

func (magnetPeers) Name() string { return "magnet x.pe" }

func (mp magnetPeers) Run(ctx context.Context, _ sources.Torrent, found func([]netip.AddrPort)) error {
	var addrs []netip.AddrPort
	for _, hp := range mp {
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			addrs = append(addrs, ap)
			continue
		}
		host, portText, err := net.SplitHostPort(hp)
		port, perr := strconv.ParseUint(portText, 10, 16)
		if err != nil || perr != nil || port == 0 {
			continue
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err == nil && len(ips) > 0 {
			addrs = append(addrs, netip.AddrPortFrom(ips[0].Unmap(), uint16(port)))
		}
	}
	if len(addrs) > 0 {
		found(addrs)
	}
	<-ctx.Done()
	return ctx.Err()
}

// fetchView is the sources.Torrent a fetch's sources see.
type fetchView struct {
	ih   metainfo.InfoHash
	port int
}

func (v fetchView) InfoHash() metainfo.InfoHash      { return v.ih }
func (v fetchView) Port() int                        { return v.port }
func (v fetchView) Counters() (up, down, left int64) { return 0, 0, fetchUnknownLeft }

// goroutine runs fn on a goroutine that shutdown waits for.
func (f *fetcher) goroutine(fn func()) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// sendOr sends v on c unless ctx ends first.
func sendOr[T any](ctx context.Context, c chan<- T, v T) bool {
	select {
	case c <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// startSources runs each source until the fetch ends.
func (f *fetcher) startSources(srcs []sources.Source) {
	for _, src := range srcs {
		f.goroutine(func() {
			view := fetchView{ih: f.ih, port: f.listenPort()}
			err := src.Run(f.ctx, view, func(addrs []netip.AddrPort) { sendOr(f.ctx, f.foundC, addrs) })
			if err != nil && f.ctx.Err() == nil {
				f.s.log.Warn("peer source failed", "magnet", f.ih, "source", src.Name(), "err", err)
			}
		})
	}
}

// shutdown ends every goroutine and connection of the fetch and waits for
// them.
func (f *fetcher) shutdown() {
	f.cancel()
	f.inbox.close()
	for _, p := range f.peers {
		f.dropPeer(p, errors.New("fetch ended"), false)
	}
	f.wg.Wait()
	for _, c := range f.closing {
		<-c.Done()
	}
}

// fetcher is the state of one FetchMetadata call. Only its run loop (the
// caller's goroutine) touches it, except the channels.
type fetcher struct {
	s      *Session
	ctx    context.Context
	cancel context.CancelFunc
	ih     metainfo.InfoHash
	wg     sync.WaitGroup // sources and dials
	// peerID is the fetch's own: the torrent added once the metadata is
	// here connects to the same peers under the session's id, which
	// they would refuse as a duplicate until they noticed that the
	// fetch's connection has closed.
	peerID peerwire.PeerID

	foundC chan []netip.AddrPort
	dialC  chan dialResult
	eventC chan peerconn.Event
	inbox  *fetchInbox // connections peers made to us
	// refusedIPs are addresses whose incoming connections broke the rules.
	refusedIPs map[netip.Addr]bool

	known   map[netip.AddrPort]*fetchKnown
	peers   map[int]*fetchPeer
	closing []*peerconn.Conn // closed connections whose goroutines may still run
	nextKey int
	dialing int

	firstMetaAt time.Time // when the first peer offering the metadata arrived
	meta        metadataAssembly
}

// fetchKnown is an address a fetch knows and how trying it went.
type fetchKnown struct {
	connected, dialing bool
	bad                bool // sent metadata that failed the hash check, or broke the rules
	giveUp             bool // unreachable, or does not offer the metadata
	incoming           bool // the address of a connection the peer made: never dialled
	failures           int
	nextTry            time.Time
}

func newFetcher(ctx context.Context, s *Session, ih metainfo.InfoHash) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	return &fetcher{
		s: s, ctx: ctx, cancel: cancel, ih: ih, peerID: peerwire.NewPeerID(peerIDPrefix),
		foundC: make(chan []netip.AddrPort),
		dialC:  make(chan dialResult),
		eventC: make(chan peerconn.Event, eventBuffer),
		inbox:  newFetchInbox(),
		known:  make(map[netip.AddrPort]*fetchKnown),
		peers:  make(map[int]*fetchPeer),
		meta:   metadataAssembly{ih: ih},
	}
}

func (f *fetcher) listenPort() int {
	if a, ok := f.s.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// run is the fetch's loop; it returns the verified info dictionary.
func (f *fetcher) run(progress func(FetchProgress)) ([]byte, error) {
	tick := time.NewTicker(fetchProgressEvery)
	defer tick.Stop()
	var lastProgress time.Time
	for {
		select {
		case addrs := <-f.foundC:
			f.addKnown(addrs)
		case r := <-f.dialC:
			f.dialDone(r)
		case ev := <-f.eventC:
			f.handleEvent(ev)
		case <-f.inbox.wake:
			for _, hc := range f.inbox.take() {
				f.addIncoming(hc)
			}
		case now := <-tick.C:
			f.expireRequests(now)
		case <-f.ctx.Done():
			return nil, f.ctx.Err()
		}
		for _, key := range f.meta.takeBad() {
			if p := f.peers[key]; p != nil {
				f.dropPeer(p, errors.New("sent metadata that fails the info hash check"), true)
			}
		}
		if info := f.meta.verified; info != nil {
			if progress != nil {
				progress(f.progress()) // the last report says it is all there
			}
			return info, nil
		}
		now := time.Now()
		f.requestPieces(now)
		f.connectMore(now)
		if progress != nil && now.Sub(lastProgress) >= fetchProgressEvery {
			lastProgress = now
			progress(f.progress())
		}
	}
}

func (f *fetcher) progress() FetchProgress {
	pr := FetchProgress{DHTNodes: f.s.dhtNodes(),
		Received: int64(f.meta.received()), Size: int64(f.meta.size)}
	for _, k := range f.known {
		if !k.incoming {
			pr.Known++ // addresses to dial, as sources gave them
		}
	}
	for _, p := range f.peers {
		if p.metadataID != 0 {
			pr.Peers++
		}
	}
	return pr
}

// summary says what the fetch found, for an error message.
func (f *fetcher) summary() string {
	pr := f.progress()
	return fmt.Sprintf("%d peers known, %d connected, %d offering the metadata, %d of %d bytes received",
		pr.Known, len(f.peers), pr.Peers, pr.Received, pr.Size)
}

// addKnown remembers addresses to connect to, up to maxKnownPeers.
func (f *fetcher) addKnown(addrs []netip.AddrPort) {
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		if !a.IsValid() || a.Port() == 0 || len(f.known) >= maxKnownPeers {
			continue
		}
		if _, ok := f.known[a]; !ok {
			f.known[a] = &fetchKnown{}
		}
	}
}

// connectMore dials known addresses while there is room.
func (f *fetcher) connectMore(now time.Time) {
	for addr, k := range f.known {
		if len(f.peers)+f.dialing >= maxFetchConns {
			return
		}
		if k.connected || k.dialing || k.bad || k.giveUp || now.Before(k.nextTry) {
			continue
		}
		k.dialing = true
		f.dialing++
		f.goroutine(func() {
			hc, err := f.s.dialAs(f.ctx, f.ih, f.peerID, addr)
			if !sendOr(f.ctx, f.dialC, dialResult{addr: addr, hc: hc, err: err}) && hc != nil {
				hc.nc.Close()
			}
		})
	}
}

func (f *fetcher) dialDone(r dialResult) {
	f.dialing--
	k := f.known[r.addr]
	k.dialing = false
	if r.err != nil {
		k.failures++
		// Three tries, 5 s and 20 s apart: a magnet's peers are few and a
		// refusal is often momentary.
		if k.failures >= 3 || errors.Is(r.err, errSelfConnection) {
			k.giveUp = true
		}
		k.nextTry = time.Now().Add(5 * time.Second << (2 * (k.failures - 1)))
		f.s.log.Debug("metadata fetch: dial failed", "addr", r.addr, "err", r.err)
		return
	}
	f.addPeer(r.hc)
}
