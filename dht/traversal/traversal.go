// Package traversal implements the iterative Kademlia lookup used by the DHT
// (BEP 5): starting from a few known nodes it repeatedly queries the nodes
// closest to a target id, learns closer ones from their replies, and stops
// when the K closest nodes it has seen have all answered.
//
// The package knows nothing about sockets or KRPC: the caller supplies a
// QueryFunc that sends one find_node or get_peers query and returns the nodes
// from the reply. This keeps the algorithm testable with a simulated network.
package traversal

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// Defaults for the zero values of Config fields.
const (
	DefaultAlpha      = 3
	DefaultK          = 8
	DefaultSlowAfter  = 2 * time.Second
	DefaultMaxQueries = 256
)

// Node is a DHT contact. A zero ID means the id is unknown (e.g. a bootstrap
// address); such nodes are candidates like any other but sort after every
// node with an id, so they are queried only while the nodes with ids do not
// yet fill the K closest (typically: an empty or failing routing table).
type Node struct {
	ID   [20]byte       // node id, zero when unknown
	Addr netip.AddrPort // UDP address the node answers on
}

// QueryFunc sends one query to n and waits for its reply or its own timeout.
// It returns the nodes the reply named as closer to the target. It must
// return promptly once ctx is cancelled.
//
// If n has a zero ID and the returned slice contains an entry with n's own
// address, that entry's id is taken as n's id (so a bootstrap node that
// answered can appear in Result.Closest).
type QueryFunc func(ctx context.Context, n Node) (closer []Node, err error)

// Config describes one lookup.
type Config struct {
	Target     [20]byte      // id or info hash being looked up
	Alpha      int           // parallel queries, default 3
	K          int           // result size, default 8
	Start      []Node        // initial candidates (routing table, bootstrap nodes)
	Query      QueryFunc     // sends one query
	SlowAfter  time.Duration // a query outstanding this long stops counting against Alpha (default 2s)
	MaxQueries int           // hard bound on queries per lookup (default 256)
}

// Result is the outcome of a lookup.
type Result struct {
	Closest []Node // nodes that answered, closest to Target first, at most K; zero-id nodes excluded
	Queried int    // queries started
	Failed  int    // queries that returned an error before the lookup ended
}

// candidateFactor bounds the candidate list to candidateFactor*K entries: a
// node farther than that many closer candidates will never be queried.
const candidateFactor = 8

// replyFactor bounds how many nodes of one reply are considered (BEP 5
// replies carry 8 per address family; a hostile node may send more).
const replyFactor = 4

type state uint8

const (
	unqueried state = iota
	inFlight        // query outstanding and counting against Alpha
	slow            // query outstanding longer than SlowAfter
	answered
	failed
)

type candidate struct {
	node    Node
	state   state
	started time.Time
}

type reply struct {
	c      *candidate
	closer []Node
	err    error
}

// lookup holds the state of one Run; only Run's goroutine touches it.
type lookup struct {
	cfg       Config
	cands     []*candidate // sorted: closest first, zero ids last
	seenAddr  map[netip.AddrPort]bool
	seenID    map[[20]byte]bool
	active    int // queries in flight that count against Alpha
	slowCount int // queries in flight past SlowAfter
	result    Result
}

// Run performs the lookup described by cfg. It returns when the lookup has
// converged (the K closest non-failed candidates have all answered and no
// unqueried candidate is closer), after MaxQueries queries, or when ctx ends.
// A query outstanding longer than SlowAfter is treated like a failure for
// that rule but its reply is still used if it comes while the lookup runs;
// while fewer than K nodes have answered, Run waits for such slow queries
// rather than end with too few. Queries still outstanding at the end are
// cancelled, and every query goroutine has returned before Run does.
func Run(ctx context.Context, cfg Config) Result {
	if cfg.Alpha <= 0 {
		cfg.Alpha = DefaultAlpha
	}
	if cfg.K <= 0 {
		cfg.K = DefaultK
	}
	if cfg.SlowAfter <= 0 {
		cfg.SlowAfter = DefaultSlowAfter
	}
	if cfg.MaxQueries <= 0 {
		cfg.MaxQueries = DefaultMaxQueries
	}
	l := &lookup{
		cfg:      cfg,
		seenAddr: make(map[netip.AddrPort]bool),
		seenID:   make(map[[20]byte]bool),
	}
	if cfg.Query == nil {
		return l.result
	}
	l.add(cfg.Start, len(cfg.Start))

	queryCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	replies := make(chan reply)
	outstanding := 0
	slowTimer := time.NewTimer(time.Hour)
	slowTimer.Stop()
	defer slowTimer.Stop()

	for ctx.Err() == nil {
		now := time.Now()
		for l.active < cfg.Alpha && l.result.Queried < cfg.MaxQueries {
			c := l.next()
			if c == nil {
				break
			}
			c.state = inFlight
			c.started = now
			l.active++
			l.result.Queried++
			outstanding++
			node := c.node // the goroutine must not read c, which Run updates
			go func() {
				closer, err := cfg.Query(queryCtx, node)
				replies <- reply{c: c, closer: closer, err: err}
			}()
		}
		if l.active == 0 && (l.slowCount == 0 || l.windowAnswered() >= cfg.K) {
			break
		}
		l.armSlowTimer(slowTimer, now)
		select {
		case <-ctx.Done():
		case r := <-replies:
			outstanding--
			l.handle(r)
		case <-slowTimer.C:
			l.markSlow(time.Now())
		}
	}

	// Stop the queries still outstanding (slow ones, or all of them when ctx
	// ended) and wait for their goroutines so none outlives Run.
	cancel()
	for ; outstanding > 0; outstanding-- {
		<-replies
	}
	l.result.Closest = l.closest()
	return l.result
}

// add merges new nodes into the candidate list, skipping invalid addresses
// and any address or id seen before, then re-sorts and trims it.
func (l *lookup) add(nodes []Node, limit int) {
	added := false
	for i, n := range nodes {
		if i >= limit {
			break
		}
		if !n.Addr.IsValid() || n.Addr.Port() == 0 || l.seenAddr[n.Addr] {
			continue
		}
		if n.ID != ([20]byte{}) {
			if l.seenID[n.ID] {
				continue
			}
			l.seenID[n.ID] = true
		}
		l.seenAddr[n.Addr] = true
		l.cands = append(l.cands, &candidate{node: n})
		added = true
	}
	if !added {
		return
	}
	l.sort()
	// Entries past the bound are too far to matter, except queries still
	// outstanding: their slow-timer bookkeeping walks this list.
	if limit := candidateFactor * l.cfg.K; len(l.cands) > limit {
		kept := l.cands[:limit]
		for _, c := range l.cands[limit:] {
			if c.state == inFlight || c.state == slow {
				kept = append(kept, c)
			}
		}
		clear(l.cands[len(kept):])
		l.cands = kept
	}
}

func (l *lookup) sort() {
	target := l.cfg.Target
	slices.SortStableFunc(l.cands, func(a, b *candidate) int {
		az, bz := a.node.ID == [20]byte{}, b.node.ID == [20]byte{}
		switch {
		case az && bz:
			return 0
		case az:
			return 1
		case bz:
			return -1
		}
		return compareDistance(target, a.node.ID, b.node.ID)
	})
}

// next returns the closest unqueried candidate among the K closest that are
// still useful (not failed and not slow), or nil when there is none: nodes
// beyond that window need no query while the window can still fill.
func (l *lookup) next() *candidate {
	window := 0
	for _, c := range l.cands {
		switch c.state {
		case failed, slow:
			continue
		case unqueried:
			return c
		}
		window++
		if window >= l.cfg.K {
			break
		}
	}
	return nil
}

// windowAnswered counts answered candidates among the K closest useful ones.
func (l *lookup) windowAnswered() int {
	window, done := 0, 0
	for _, c := range l.cands {
		if c.state == failed || c.state == slow {
			continue
		}
		if c.state == answered {
			done++
		}
		window++
		if window >= l.cfg.K {
			break
		}
	}
	return done
}

func (l *lookup) handle(r reply) {
	c := r.c
	if c.state == inFlight {
		l.active--
	} else {
		l.slowCount--
	}
	if r.err != nil {
		c.state = failed
		l.result.Failed++
		return
	}
	c.state = answered
	if c.node.ID == ([20]byte{}) {
		for _, n := range r.closer {
			if n.Addr == c.node.Addr && n.ID != ([20]byte{}) && !l.seenID[n.ID] {
				c.node.ID = n.ID
				l.seenID[n.ID] = true
				l.sort()
				break
			}
		}
	}
	l.add(r.closer, replyFactor*l.cfg.K)
}

// markSlow moves queries outstanding for SlowAfter out of the Alpha budget so
// that an unresponsive node does not hold up the lookup.
func (l *lookup) markSlow(now time.Time) {
	for _, c := range l.cands {
		if c.state == inFlight && now.Sub(c.started) >= l.cfg.SlowAfter {
			c.state = slow
			l.active--
			l.slowCount++
		}
	}
}

// armSlowTimer sets t to fire when the oldest counted query becomes slow.
func (l *lookup) armSlowTimer(t *time.Timer, now time.Time) {
	var oldest time.Time
	for _, c := range l.cands {
		if c.state == inFlight && (oldest.IsZero() || c.started.Before(oldest)) {
			oldest = c.started
		}
	}
	t.Stop()
	if !oldest.IsZero() {
		t.Reset(max(oldest.Add(l.cfg.SlowAfter).Sub(now), 0))
	}
}

func (l *lookup) closest() []Node {
	var out []Node
	for _, c := range l.cands {
		if len(out) >= l.cfg.K {
			break
		}
		if c.state == answered && c.node.ID != ([20]byte{}) {
			out = append(out, c.node)
		}
	}
	return out
}
