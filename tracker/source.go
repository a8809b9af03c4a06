package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"shoal/engine/sources"
)

// SourceConfig tunes a Source. Zero fields take the defaults.
type SourceConfig struct {
	// PeerID is ours, sent in every announce.
	PeerID [20]byte
	// Client does the exchanges; nil: the Source makes its own for each
	// run and closes it at the end.
	Client *Client
	// NumWant is how many peers to ask for (0: 50, BEP 3's usual number;
	// negative: the tracker's choice).
	NumWant int
	// AttemptTimeout bounds one announce to one tracker before the next
	// one is tried (0: 45 s, enough for a UDP tracker's first
	// retransmission).
	AttemptTimeout time.Duration
	// StopTimeout bounds the "stopped" announce at shutdown (0: 5 s).
	StopTimeout time.Duration
	// MinInterval is the least time between regular announces, whatever
	// a tracker asks for (0: 30 s).
	MinInterval time.Duration
	// RetryMin and RetryMax bound the wait after every tracker failed; it
	// doubles with each failure in a row (0: 15 s and 30 min).
	RetryMin, RetryMax time.Duration
}

func (c SourceConfig) withDefaults() SourceConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AttemptTimeout, 45*time.Second)
	def(&c.StopTimeout, 5*time.Second)
	def(&c.MinInterval, 30*time.Second)
	def(&c.RetryMin, 15*time.Second)
	def(&c.RetryMax, 30*time.Minute)
	if c.NumWant == 0 {
		c.NumWant = 50
	}
	return c
}

// Source is a torrent's trackers as a peer source (BEP 12 tiers).
type Source struct {
	cfg SourceConfig
	key uint32 // BEP 3 "key": the same in every announce of this source

	runMu sync.Mutex // held by Run: one run at a time

	mu           sync.Mutex
	tiers        [][]*trackerEntry
	lastAnswered *trackerEntry // where "stopped" goes
}

var _ sources.Source = (*Source)(nil)

// NewSource makes a Source for the tracker tiers (see Tiers).
func NewSource(tiers [][]string, cfg SourceConfig) *Source {
	return &Source{cfg: cfg.withDefaults(), key: randomUint32(), tiers: newTiers(tiers)}
}

// Name returns "trackers".
func (s *Source) Name() string { return "trackers" }

// Status returns every tracker's state, tier by tier, in the order they
// are tried.
func (s *Source) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, tier := range s.tiers {
		for _, e := range tier {
			out = append(out, e.status)
		}
	}
	return out
}

// Run announces "started", then re-announces at the trackers' interval,
// announces "completed" when t (if a sources.Completer) completes a
// download, and "stopped" when ctx ends, within StopTimeout. It returns
// ctx.Err().
func (s *Source) Run(ctx context.Context, t sources.Torrent, found func([]netip.AddrPort)) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	client := s.cfg.Client
	if client == nil {
		client = &Client{}
		defer client.Close()
	}
	s.mu.Lock()
	s.lastAnswered = nil
	empty := len(s.tiers) == 0
	s.mu.Unlock()
	if empty {
		<-ctx.Done()
		return ctx.Err()
	}
	// An announce under way when ctx ends may finish, and "stopped" be
	// sent, until StopTimeout after the end: a tracker should hear both.
	graceCtx, endGrace := context.WithCancel(context.WithoutCancel(ctx))
	defer endGrace()
	context.AfterFunc(ctx, func() { time.AfterFunc(s.cfg.StopTimeout, endGrace) })
	var completeC <-chan struct{}
	if c, ok := t.(sources.Completer); ok {
		// BEP 3: "completed" is not sent when the download was already
		// complete at start.
		if _, _, left := t.Counters(); left > 0 {
			completeC = c.Complete()
		}
	}
	event := EventStarted
	started := false        // some tracker took our "started"
	triedCompleted := false // "completed" was sent, whatever came of it
	failures := 0
	var lastOK time.Time
	var minInterval time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if started {
				// A download that completed just now still counts as a
				// completed one for the tracker: say so before leaving.
				// (Unless it was sent and failed: it may have arrived,
				// and a tracker would count it twice.)
				select {
				case <-completeC:
					event = EventCompleted
				default:
				}
				s.sendStopped(graceCtx, client, t, event == EventCompleted && !triedCompleted)
			}
			return ctx.Err()
		case <-completeC:
			completeC = nil
			if event == EventNone {
				event = EventCompleted
			}
			// Tell the trackers now, but not sooner than they allow.
			timer.Reset(max(time.Until(lastOK.Add(minInterval)), 0))
			continue
		case <-timer.C:
		}
		triedCompleted = triedCompleted || event == EventCompleted
		res, err := s.announce(ctx, graceCtx, client, t, event)
		if err != nil {
			if ctx.Err() != nil {
				continue // the select above sends "stopped" and returns
			}
			failures++
			wait := s.cfg.RetryMin << min(failures-1, 16)
			s.setNext(time.Now().Add(min(wait, s.cfg.RetryMax)))
			timer.Reset(min(wait, s.cfg.RetryMax))
			continue
		}
		failures = 0
		if event == EventStarted {
			started = true
		}
		event = EventNone
		lastOK, minInterval = time.Now(), res.MinInterval
		wait := max(res.Interval, res.MinInterval, s.cfg.MinInterval)
		s.setNext(lastOK.Add(wait))
		timer.Reset(wait)
		if len(res.Peers) > 0 {
			found(res.Peers)
		}
	}
}

// announce tries the trackers tier by tier (BEP 12) until one answers.
// Once ctx ends no other tracker is tried; attemptCtx bounds the attempt
// under way.
func (s *Source) announce(ctx, attemptCtx context.Context, client *Client, t sources.Torrent, event Event) (*AnnounceResponse, error) {
	req := s.request(t, event)
	s.mu.Lock()
	numTiers := len(s.tiers)
	s.mu.Unlock()
	var errs []error
	for ti := 0; ti < numTiers; ti++ {
		s.mu.Lock()
		tier := append([]*trackerEntry(nil), s.tiers[ti]...)
		s.mu.Unlock()
		for _, e := range tier {
			res, err := s.announceTo(attemptCtx, client, e, req)
			if err == nil {
				s.mu.Lock()
				for i, x := range s.tiers[ti] {
					if x == e {
						moveToFront(s.tiers[ti], i)
						break
					}
				}
				s.lastAnswered = e
				s.mu.Unlock()
				return res, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	return nil, fmt.Errorf("tracker: every tracker failed: %w", errors.Join(errs...))
}

// announceTo sends one announce to one tracker, within AttemptTimeout, and
// records the outcome in its status.
func (s *Source) announceTo(ctx context.Context, client *Client, e *trackerEntry, req AnnounceRequest) (*AnnounceResponse, error) {
	s.mu.Lock()
	url := e.status.URL
	req.TrackerID = e.trackerID
	e.status.LastAttempt = time.Now()
	s.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	res, err := client.Announce(actx, url, req)
	if err == nil && actx.Err() != nil {
		err = actx.Err()
	}
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil || req.Event == EventStopped {
			e.status.LastError = err.Error()
		}
		return nil, err
	}
	e.status.LastAnnounce = time.Now()
	e.status.LastError = ""
	e.status.Warning = res.Warning
	e.status.Peers = len(res.Peers)
	e.status.Seeders, e.status.Leechers = res.Seeders, res.Leechers
	if res.TrackerID != "" {
		e.trackerID = res.TrackerID
	}
	return res, nil
}

// request fills an announce from the torrent's counters.
func (s *Source) request(t sources.Torrent, event Event) AnnounceRequest {
	up, down, left := t.Counters()
	port := t.Port()
	if port < 0 || port > 65535 {
		port = 0
	}
	return AnnounceRequest{
		InfoHash: t.InfoHash(), PeerID: s.cfg.PeerID, Port: uint16(port),
		Uploaded: up, Downloaded: down, Left: left,
		Event: event, NumWant: s.cfg.NumWant, Key: s.key,
	}
}

// sendStopped tells the tracker that last answered that we leave (after
// "completed" if that is still to be sent), while graceCtx lasts.
func (s *Source) sendStopped(graceCtx context.Context, client *Client, t sources.Torrent, completed bool) {
	s.mu.Lock()
	e := s.lastAnswered
	s.mu.Unlock()
	if e == nil {
		return
	}
	if completed {
		s.announceTo(graceCtx, client, e, s.request(t, EventCompleted))
	}
	req := s.request(t, EventStopped)
	req.NumWant = 0 // BEP 3 trackers need not send peers to a leaving client
	s.announceTo(graceCtx, client, e, req)
	s.setNext(time.Time{})
}

// setNext records when the next announce is due, in every status.
func (s *Source) setNext(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tier := range s.tiers {
		for _, e := range tier {
			e.status.NextAnnounce = at
		}
	}
}
