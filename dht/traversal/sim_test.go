package traversal

import (
	"context"
	"errors"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// simNet is a simulated DHT: every node has a Kademlia-style routing table
// (up to bucketSize nodes per shared-prefix length) and answers a query with
// the nodes of its table closest to the target, as BEP 5 find_node does.
type simNet struct {
	nodes  []Node
	byAddr map[netip.AddrPort]int
	tables [][]Node

	mu       sync.Mutex
	behavior map[netip.AddrPort]simBehavior // default: answer at once
	calls    map[netip.AddrPort]int

	inFlight    atomic.Int32
	maxInFlight atomic.Int32
	delay       time.Duration // added to every answer
}

type simBehavior int

const (
	simAnswer simBehavior = iota
	simFail               // returns an error at once
	simDead               // never answers; returns only when ctx ends
	simSlow               // answers after slowDelay
)

const (
	bucketSize = 8
	slowDelay  = 150 * time.Millisecond
)

var errSimFailed = errors.New("sim: node failed")

func newSimNet(seed uint64, n int) *simNet {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &simNet{
		byAddr:   make(map[netip.AddrPort]int),
		behavior: make(map[netip.AddrPort]simBehavior),
		calls:    make(map[netip.AddrPort]int),
	}
	for i := range n {
		var id [20]byte
		for j := range id {
			id[j] = byte(rng.UintN(256))
		}
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
		s.nodes = append(s.nodes, Node{ID: id, Addr: addr})
		s.byAddr[addr] = i
	}
	s.tables = make([][]Node, n)
	for i, a := range s.nodes {
		var buckets [161][]Node
		for _, j := range rng.Perm(n) {
			if j == i {
				continue
			}
			b := sharedPrefix(a.ID, s.nodes[j].ID)
			if len(buckets[b]) < bucketSize {
				buckets[b] = append(buckets[b], s.nodes[j])
			}
		}
		for _, b := range buckets {
			s.tables[i] = append(s.tables[i], b...)
		}
	}
	return s
}

func sharedPrefix(a, b [20]byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}

func (s *simNet) set(addr netip.AddrPort, b simBehavior) {
	s.mu.Lock()
	s.behavior[addr] = b
	s.mu.Unlock()
}

// query is a QueryFunc for target.
func (s *simNet) query(target [20]byte) QueryFunc {
	return func(ctx context.Context, n Node) ([]Node, error) {
		cur := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			old := s.maxInFlight.Load()
			if cur <= old || s.maxInFlight.CompareAndSwap(old, cur) {
				break
			}
		}
		s.mu.Lock()
		s.calls[n.Addr]++
		b := s.behavior[n.Addr]
		s.mu.Unlock()
		i, ok := s.byAddr[n.Addr]
		if !ok {
			return nil, errSimFailed
		}
		wait := s.delay
		switch b {
		case simFail:
			return nil, errSimFailed
		case simDead:
			<-ctx.Done()
			return nil, ctx.Err()
		case simSlow:
			wait += slowDelay
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		return closestTo(target, s.tables[i], bucketSize), nil
	}
}

// closestTo returns the k nodes of list closest to target, closest first.
func closestTo(target [20]byte, list []Node, k int) []Node {
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b Node) int { return compareDistance(target, a.ID, b.ID) })
	return out[:min(k, len(out))]
}

// liveClosest is the true answer: the k closest nodes that answer queries.
func (s *simNet) liveClosest(target [20]byte, k int) []Node {
	var live []Node
	s.mu.Lock()
	for _, n := range s.nodes {
		if b := s.behavior[n.Addr]; b == simAnswer || b == simSlow {
			live = append(live, n)
		}
	}
	s.mu.Unlock()
	return closestTo(target, live, k)
}

func (s *simNet) maxCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	most := 0
	for _, c := range s.calls {
		most = max(most, c)
	}
	return most
}

func (s *simNet) resetCalls() {
	s.mu.Lock()
	clear(s.calls)
	s.mu.Unlock()
}

func (s *simNet) totalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, c := range s.calls {
		total += c
	}
	return total
}

func randomID(rng *rand.Rand) [20]byte {
	var id [20]byte
	for j := range id {
		id[j] = byte(rng.UintN(256))
	}
	return id
}
