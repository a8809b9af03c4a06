package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"shoal/bitfield"
	"shoal/engine/choker"
	"shoal/engine/peerconn"
	"shoal/engine/picker"
	"shoal/engine/sources"
	"shoal/metainfo"
	"shoal/storage"
	"shoal/tracker"
)

// Priority is a file's download priority.
type Priority int8

// File priorities, as users of other clients know them.
const (
	PrioritySkip   Priority = -1 // do not download
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
)

// AddOptions says how to add a torrent.
type AddOptions struct {
	// SavePath is the directory the torrent's content goes in, under the
	// torrent's name (as other clients do). Required.
	SavePath string
	// ContentName, if set, replaces the torrent's name as the name of its
	// file or top directory under SavePath: seeding data that was renamed.
	// It must be a single path component.
	ContentName string
	// Stopped adds the torrent without starting it.
	Stopped bool
	// FilePriorities holds one priority per file; nil means all normal.
	FilePriorities []Priority
	// Sequential downloads pieces in order instead of rarest first.
	Sequential bool
	// Peers are addresses to connect to (a sources.Manual source).
	Peers []netip.AddrPort
	// Sources find more peers while the torrent runs.
	Sources []sources.Source
	// Trackers are tracker URLs to use besides the torrent's own, each a
	// tier of its own after them (ignored for a private torrent, BEP 27);
	// NoTrackers uses no tracker at all.
	Trackers   []string
	NoTrackers bool
	// DownloadRate and UploadRate cap this torrent's payload rates in
	// bytes per second, within the session's limits; 0 means no limit of
	// its own.
	DownloadRate, UploadRate int64
}

// Torrent is one torrent in a Session. Its methods are safe for concurrent
// use: they send commands to the torrent's loop and wait for the answer.
type Torrent struct {
	s    *Session
	mi   *metainfo.MetaInfo
	info *metainfo.Info
	// diskInfo is info as laid out on disk: the same, except for the name
	// when AddOptions.ContentName renames the content.
	diskInfo *metainfo.Info
	infoHash metainfo.InfoHash
	layout   *metainfo.Layout
	savePath string
	addedAt  time.Time

	ctx    context.Context
	cancel context.CancelFunc

	downLimit, upLimit *rate.Limiter // this torrent's own limits (rate.Inf: none)

	cmdC      chan func()           // API calls, run on the loop
	connC     chan *handshakedConn  // connections whose handshake is done
	eventC    chan peerconn.Event   // messages and closes from peer connections
	pieceC    chan pieceResult      // hashed (and written) pieces
	checkC    chan checkResult      // end of the start-up check
	dialC     chan dialResult       // outgoing connection attempts
	resumeC   chan error            // end of a resume save
	foundC    chan []netip.AddrPort // addresses from peer sources
	completeC chan struct{}         // closed once every wanted piece is verified
	checked   atomic.Int64          // pieces checked so far by the start-up check
	loopDoneC chan struct{}         // closed when the loop has ended

	// Everything below belongs to the loop goroutine.
	state         State
	err           error
	st            storage.Storage
	have          *bitfield.Bitfield
	fileHaveBytes []int64 // verified bytes per file, kept with have
	picker        *picker.Picker
	choker        *choker.Choker
	peers         map[int]*peer
	directGate    atomic.Bool // storage writes with O_DIRECT while set (see direct_writes.go)
	nextKey       int
	known         map[netip.AddrPort]*knownPeer
	dialing       int
	waiting       []*handshakedConn // connections that arrived while checking
	pieces        map[int]*pieceBuf // pieces being downloaded, by index
	pickBuf       []picker.Block    // fillRequests' picks, reused
	// memFreedC is closed when piece memory is released after newPiece
	// was refused some; nil otherwise.
	memFreedC    <-chan struct{}
	badPieces    map[int][]badBlock
	filePrio     []Priority
	sequential   bool
	counters     counters
	resumeDirty  bool
	savingResume bool
	completed    bool
	checkCancel  context.CancelFunc
	checkGen     int // counts starts, to tell a current check's result from a stale one
	sources      []sources.Source
	stopSources  context.CancelFunc // ends the sources' runs; nil when not running
	trackers     *tracker.Source    // also in sources; nil without trackers (set before the loop starts)
	ticks        int
	superSeed    *superSeeder // BEP 16 state while super-seeding; nil otherwise
	pexLearned   int          // new addresses learned through peer exchange (BEP 11)
	metaServed   int          // ut_metadata pieces sent to peers (BEP 9)

	// A parked torrent has no loop goroutine (see torrent_idle.go).
	wakeMu    sync.Mutex
	looping   bool // a loop goroutine runs
	senders   int  // goroutines that woke the loop and may still send to it
	loopEnded bool // the loop has ended for good

	// Idle torrents cost no wake-ups: tickTimer is armed only while there
	// is periodic work (see schedule); tickAt is when it fires, zero when
	// disarmed.
	tickTimer *time.Timer
	tickAt    time.Time
	// restored is the resume record a restored torrent was added from,
	// until its first check has used it.
	restored *storage.ResumeRecord
	// contentName and trackerTiers are recorded in the resume data:
	// AddOptions.ContentName if it renames the content, and the tracker
	// tiers in use (the torrent's and AddOptions.Trackers).
	contentName  string
	trackerTiers [][]string
	paused       bool // stopped by the user (recorded in the resume data)
	removed      bool // by Remove; guarded by the session's work.resumeMu
	// What the resume store holds, to skip saves that would change
	// nothing: closing a session of 10,000 idle torrents writes nothing.
	saved struct {
		ok                   bool
		uploaded, downloaded int64
		paused               bool
	}
}

// counters are a torrent's byte counts.
type counters struct {
	downloaded, uploaded         int64 // payload bytes this session
	downloadedEver, uploadedEver int64 // including earlier sessions (resume data)
	everLoaded                   bool  // the first start has taken the resume record's counters
	wasted                       int64 // payload received but not used
	verifiedAtStart              int   // pieces found valid when the torrent started
	downRate, upRate             float64
	completedAt                  time.Time
}

// AddTorrent adds a torrent to the session and, unless opts.Stopped,
// starts it: existing data under opts.SavePath is checked first (using the
// resume data when it is still valid), then peers are contacted.
//
// With Config.DataDir set, the torrent is recorded in the resume store at
// once (unless the store already holds a record for it), so that
// Session.RestoreTorrents brings it back after a restart even if it never
// ran; its trackers and web seeds are recorded with it.
func (s *Session) AddTorrent(mi *metainfo.MetaInfo, opts AddOptions) (*Torrent, error) {
	return s.addTorrent(mi, opts, nil)
}

// addTorrent adds a torrent; rec is its resume record when it is being
// restored from the resume store (nil for a new torrent).
func (s *Session) addTorrent(mi *metainfo.MetaInfo, opts AddOptions, rec *storage.ResumeRecord) (*Torrent, error) {
	if opts.SavePath == "" {
		return nil, errors.New("engine: AddOptions.SavePath is required")
	}
	if opts.FilePriorities != nil && len(opts.FilePriorities) != len(mi.Info.Files) {
		return nil, fmt.Errorf("engine: %d file priorities for %d files", len(opts.FilePriorities), len(mi.Info.Files))
	}
	diskInfo := &mi.Info
	if opts.ContentName != "" && opts.ContentName != mi.Info.Name {
		if err := metainfo.ValidatePath([]string{opts.ContentName}); err != nil {
			return nil, fmt.Errorf("engine: content name: %w", err)
		}
		renamed := mi.Info
		renamed.Name = opts.ContentName
		diskInfo = &renamed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, dup := s.torrents[mi.InfoHash]; dup {
		return nil, fmt.Errorf("engine: torrent %s already added", mi.InfoHash)
	}
	// Not a child of the session's context: registering 10,000 children
	// in it would cost memory for nothing, as Close cancels each torrent.
	ctx, cancel := context.WithCancel(context.Background())
	t := &Torrent{
		s:          s,
		mi:         mi,
		info:       &mi.Info,
		diskInfo:   diskInfo,
		infoHash:   mi.InfoHash,
		layout:     metainfo.NewLayout(&mi.Info),
		savePath:   opts.SavePath,
		addedAt:    addedAt(rec),
		ctx:        ctx,
		cancel:     cancel,
		cmdC:       make(chan func()),
		connC:      make(chan *handshakedConn, 8),
		checkC:     make(chan checkResult, 1),
		resumeC:    make(chan error, 1),
		foundC:     make(chan []netip.AddrPort),
		completeC:  make(chan struct{}),
		loopDoneC:  make(chan struct{}),
		peers:      make(map[int]*peer),
		known:      make(map[netip.AddrPort]*knownPeer),
		pieces:     make(map[int]*pieceBuf),
		badPieces:  make(map[int][]badBlock),
		filePrio:   make([]Priority, len(mi.Info.Files)),
		state:      StateStopped,
		sequential: opts.Sequential,
		restored:   rec,
		paused:     opts.Stopped,
	}
	if diskInfo != &mi.Info {
		t.contentName = diskInfo.Name
	}
	if !opts.NoTrackers {
		t.trackerTiers = tracker.Tiers(mi.Announce, mi.AnnounceList, opts.Trackers...)
	}
	copy(t.filePrio, opts.FilePriorities)
	t.downLimit, t.upLimit = rate.NewLimiter(rate.Inf, 0), rate.NewLimiter(rate.Inf, 0)
	t.setRateLimits(opts.DownloadRate, opts.UploadRate)
	t.sources = append(t.sources, opts.Sources...)
	if t.trackers = s.trackerSource(mi, opts); t.trackers != nil {
		t.sources = append(t.sources, t.trackers)
	}
	peers := opts.Peers
	if rec == nil {
		// The peers that just gave us the metadata have the torrent; the
		// fetch's connections are gone, but they can be dialled at once
		// (fetch_incoming.go).
		peers = append(append([]netip.AddrPort(nil), peers...), s.takeFetchedPeers(mi.InfoHash)...)
	}
	if len(peers) > 0 {
		t.sources = append(t.sources, sources.Manual{Peers: peers})
	}
	t.sources = append(t.sources, s.discoverySources(mi.Info.Private)...)
	s.torrents[mi.InfoHash] = t
	// The session waits for the torrent until its loop ends for good, not
	// for each of its loop goroutines (see torrent_idle.go).
	s.wg.Add(1)
	t.looping = true
	go t.run(!opts.Stopped)
	return t, nil
}

// addedAt is when a torrent was first added: now, or what its resume
// record says.
func addedAt(rec *storage.ResumeRecord) time.Time {
	if rec != nil && !rec.AddedAt.IsZero() {
		return rec.AddedAt
	}
	return time.Now()
}

// SavePath returns the directory the torrent's content is in.
func (t *Torrent) SavePath() string { return t.savePath }

// InfoHash returns the torrent's v1 info hash.
func (t *Torrent) InfoHash() metainfo.InfoHash { return t.infoHash }

// Name returns the torrent's name.
func (t *Torrent) Name() string { return t.info.Name }

// MetaInfo returns the torrent's metainfo. Callers must not change it.
func (t *Torrent) MetaInfo() *metainfo.MetaInfo { return t.mi }

// call runs f on the torrent's loop and waits for it.
func (t *Torrent) call(f func()) error {
	done := make(chan struct{})
	leave := t.enter()
	select {
	// The loop itself ends the sender's count, before it may park again.
	case t.cmdC <- func() { leave(); f(); close(done) }:
	case <-t.loopDoneC:
		leave()
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-t.loopDoneC:
		return ErrClosed
	}
}

// Start starts a stopped torrent (or one stopped by an error, to retry).
func (t *Torrent) Start() error { return t.call(t.start) }

// Stop disconnects every peer, saves resume data and closes the files.
func (t *Torrent) Stop() error { return t.call(func() { t.stop(StateStopped, nil) }) }

// AddPeers adds peer addresses to connect to.
func (t *Torrent) AddPeers(addrs ...netip.AddrPort) error {
	return t.call(func() {
		t.addKnown(addrs, true)
		t.ensurePeerChans()
		t.connectMore(time.Now())
	})
}

// SetRateLimits changes the torrent's own download and upload limits, in
// bytes per second (0: no limit of its own). It takes effect at once on
// every connection.
func (t *Torrent) SetRateLimits(down, up int64) { t.setRateLimits(down, up) }

func (t *Torrent) setRateLimits(down, up int64) {
	for _, l := range []struct {
		lim  *rate.Limiter
		rate int64
	}{{t.downLimit, down}, {t.upLimit, up}} {
		if l.rate <= 0 {
			l.lim.SetLimit(rate.Inf)
			continue
		}
		l.lim.SetBurst(limiterBurst(l.rate))
		l.lim.SetLimit(rate.Limit(l.rate))
	}
}

// Complete returns a channel that is closed once every wanted piece has
// been verified.
func (t *Torrent) Complete() <-chan struct{} { return t.completeC }

// WaitComplete waits until every wanted piece is verified, the torrent
// fails, or ctx ends.
func (t *Torrent) WaitComplete(ctx context.Context) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.completeC:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.loopDoneC:
			return ErrClosed
		case <-tick.C:
			if st := t.Stats(); st.State == StateError {
				return st.Err
			}
		}
	}
}

// Remove takes the torrent out of the session, optionally deleting its
// downloaded data, and forgets its resume data.
func (t *Torrent) Remove(deleteData bool) error {
	s := t.s
	s.mu.Lock()
	if s.torrents[t.infoHash] != t {
		s.mu.Unlock()
		return ErrClosed
	}
	delete(s.torrents, t.infoHash)
	s.mu.Unlock()
	t.cancel()
	t.enter()() // a parked loop must run to end
	<-t.loopDoneC
	var errs []error
	if s.resume != nil {
		errs = append(errs, s.forgetResume(t))
	}
	if deleteData {
		errs = append(errs, t.deleteData())
	}
	return errors.Join(errs...)
}

// deleteData removes the torrent's files and the directories they were in,
// if those are then empty.
func (t *Torrent) deleteData() error {
	// Through storage, which never follows a symlink: one planted in the
	// download directory must not make us delete files outside it.
	return storage.RemoveFiles(t.savePath, t.diskInfo)
}
