package dht

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"shoal/dht/traversal"
)

// nodeStatus is BEP 5's classification of a node in the routing table.
type nodeStatus int

const (
	statusGood nodeStatus = iota
	statusQuestionable
	statusBad
)

// tableNode is one contact in the routing table or a replacement cache.
type tableNode struct {
	id        ID
	addr      netip.AddrPort
	lastReply time.Time // last reply to one of our queries
	lastQuery time.Time // last query it sent us
	failures  int       // our queries it failed to answer in a row
	verified  bool      // its id matches its address (BEP 42), or the address is exempt
	pinging   bool      // a ping to it is outstanding
}

// status applies BEP 5: good if it answered within 15 minutes, or answered
// once and queried us within 15 minutes; bad after failing several queries
// in a row; questionable otherwise.
func (n *tableNode) status(now time.Time) nodeStatus {
	switch {
	case n.failures >= failuresUntilBad:
		return statusBad
	case now.Sub(n.lastReply) < goodNodeAge:
		return statusGood
	case !n.lastReply.IsZero() && now.Sub(n.lastQuery) < goodNodeAge:
		return statusGood
	}
	return statusQuestionable
}

// lastSeen is when we last heard from the node at all.
func (n *tableNode) lastSeen() time.Time {
	if n.lastQuery.After(n.lastReply) {
		return n.lastQuery
	}
	return n.lastReply
}

// bucket holds up to K nodes and a cache of replacements for them.
type bucket struct {
	nodes        []*tableNode
	replacements []*tableNode // most recently seen last
	lastChanged  time.Time    // BEP 5's "last changed" property
}

// table is the routing table of BEP 5. Bucket i holds the ids that share
// exactly i leading bits with our id; the last bucket holds every id that
// shares at least len(buckets)-1 bits, which is the bucket containing our
// own id and the only one that splits. It is safe for concurrent use.
type table struct {
	mu      sync.Mutex
	self    ID
	buckets []*bucket
}

func newTable(self ID, now time.Time) *table {
	return &table{self: self, buckets: []*bucket{{lastChanged: now}}}
}

// bucketIndex returns the index of the bucket that covers id.
func (t *table) bucketIndex(id ID) int {
	return min(commonPrefixLen(t.self, id), len(t.buckets)-1)
}

// find returns the node with id and its bucket, or nil.
func (t *table) find(id ID) (*tableNode, *bucket) {
	b := t.buckets[t.bucketIndex(id)]
	for _, n := range b.nodes {
		if n.id == id {
			return n, b
		}
	}
	return nil, b
}

// findAddr returns the node at addr, or nil.
func (t *table) findAddr(addr netip.AddrPort) *tableNode {
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if n.addr == addr {
				return n
			}
		}
	}
	return nil
}

// onReply records that the node answered one of our queries and inserts it
// if it is new. It returns the address of a questionable node of the same
// bucket that should be pinged to make room, or the zero AddrPort.
func (t *table) onReply(id ID, addr netip.AddrPort, verified bool, now time.Time) (ping netip.AddrPort) {
	if id == t.self {
		return ping
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, b := t.find(id); n != nil {
		if n.addr != addr {
			// The same id from another address: keep the contact we know
			// works unless it has stopped answering.
			if n.status(now) != statusBad {
				return ping
			}
			n.addr, n.verified = addr, verified
		}
		n.lastReply, n.failures, n.pinging = now, 0, false
		b.lastChanged = now
		return ping
	}
	if n := t.findAddr(addr); n != nil {
		// Another id at a known address: the node restarted with a new id
		// (BEP 42 asks nodes to do that). Forget the old one.
		t.remove(n)
	}
	return t.insert(&tableNode{id: id, addr: addr, lastReply: now, verified: verified}, now)
}

// onQuery records a query from a node; it reports whether the node is
// unknown and the table has room for it, in which case it is worth a ping.
func (t *table) onQuery(id ID, addr netip.AddrPort, now time.Time) (worthPing bool) {
	if id == t.self {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, _ := t.find(id); n != nil {
		if n.addr == addr {
			n.lastQuery = now
		}
		return false
	}
	i := t.bucketIndex(id)
	b := t.buckets[i]
	if len(b.nodes) < bucketSize || i == len(t.buckets)-1 && len(t.buckets) < 160 {
		return true
	}
	for _, n := range b.nodes {
		if n.status(now) == statusBad {
			return true
		}
	}
	return false
}

// onFailure records that the node at addr did not answer a query. A node
// that turns bad is replaced from its bucket's replacement cache.
func (t *table) onFailure(addr netip.AddrPort, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.findAddr(addr)
	if n == nil {
		return
	}
	n.failures++
	n.pinging = false
	if n.status(now) != statusBad {
		return
	}
	b := t.buckets[t.bucketIndex(n.id)]
	if len(b.replacements) > 0 {
		r := b.replacements[len(b.replacements)-1]
		b.replacements = b.replacements[:len(b.replacements)-1]
		b.nodes[slices.Index(b.nodes, n)] = r
		b.lastChanged = now
	}
}

// remove deletes n from its bucket.
func (t *table) remove(n *tableNode) {
	b := t.buckets[t.bucketIndex(n.id)]
	if i := slices.Index(b.nodes, n); i >= 0 {
		b.nodes = slices.Delete(b.nodes, i, i+1)
	}
}

// insert applies BEP 5's rules for a new node: add it if its bucket has
// room; split the bucket when it contains our id; replace a bad node;
// replace an unverified node with a verified one (BEP 42) when the
// unverified one has a public address; otherwise keep the new node as a
// replacement and return the address of the least recently seen
// questionable node, which the caller pings (twice failing makes it bad and
// replaced).
func (t *table) insert(n *tableNode, now time.Time) (ping netip.AddrPort) {
	for {
		i := t.bucketIndex(n.id)
		b := t.buckets[i]
		if len(b.nodes) < bucketSize {
			b.nodes = append(b.nodes, n)
			b.lastChanged = now
			return ping
		}
		if i == len(t.buckets)-1 && len(t.buckets) < 160 {
			t.split()
			continue
		}
		var questionable *tableNode
		for j, old := range b.nodes {
			switch old.status(now) {
			case statusBad:
				b.nodes[j] = n
				b.lastChanged = now
				return ping
			case statusQuestionable:
				if !old.pinging && (questionable == nil || old.lastSeen().Before(questionable.lastSeen())) {
					questionable = old
				}
			}
		}
		if n.verified {
			for j, old := range b.nodes {
				if !old.verified && publicAddr(old.addr.Addr()) {
					b.nodes[j] = n
					b.lastChanged = now
					t.addReplacement(b, old)
					return ping
				}
			}
		}
		t.addReplacement(b, n)
		if questionable != nil {
			questionable.pinging = true
			return questionable.addr
		}
		return ping
	}
}

// addReplacement keeps n in b's replacement cache, dropping the oldest
// entry when the cache is full.
func (t *table) addReplacement(b *bucket, n *tableNode) {
	for i, r := range b.replacements {
		if r.id == n.id || r.addr == n.addr {
			b.replacements = slices.Delete(b.replacements, i, i+1)
			break
		}
	}
	if len(b.replacements) >= replacementsPerBk {
		b.replacements = slices.Delete(b.replacements, 0, 1)
	}
	b.replacements = append(b.replacements, n)
}

// split divides the last bucket: the ids that share one more bit with our
// own move to a new last bucket.
func (t *table) split() {
	last := t.buckets[len(t.buckets)-1]
	depth := len(t.buckets) - 1
	next := &bucket{lastChanged: last.lastChanged}
	move := func(list []*tableNode) (stay, moved []*tableNode) {
		for _, n := range list {
			if commonPrefixLen(t.self, n.id) > depth {
				moved = append(moved, n)
			} else {
				stay = append(stay, n)
			}
		}
		return stay, moved
	}
	last.nodes, next.nodes = move(last.nodes)
	last.replacements, next.replacements = move(last.replacements)
	t.buckets = append(t.buckets, next)
}

// closest returns up to k nodes closest to target that are not bad, good
// ones being BEP 5's answer to find_node and get_peers.
func (t *table) closest(target [20]byte, k int, now time.Time) []traversal.Node {
	t.mu.Lock()
	var all []traversal.Node
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if n.status(now) != statusBad {
				all = append(all, traversal.Node{ID: n.id, Addr: n.addr})
			}
		}
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b traversal.Node) int {
		if traversal.Closer(target, a.ID, b.ID) {
			return -1
		}
		if traversal.Closer(target, b.ID, a.ID) {
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))]
}

// goodNodes returns every good node, for the state file.
func (t *table) goodNodes(now time.Time) []traversal.Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []traversal.Node
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if n.status(now) == statusGood {
				out = append(out, traversal.Node{ID: n.id, Addr: n.addr})
			}
		}
	}
	return out
}

// counts returns the number of nodes, good nodes and buckets.
func (t *table) counts(now time.Time) (nodes, good, buckets int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.buckets {
		nodes += len(b.nodes)
		for _, n := range b.nodes {
			if n.status(now) == statusGood {
				good++
			}
		}
	}
	return nodes, good, len(t.buckets)
}

// maintenance returns the questionable nodes to ping (the least recently
// seen one of every bucket that has replacements waiting, as BEP 5 asks)
// and random targets in the buckets not changed for 15 minutes, which the
// caller refreshes with find_node lookups. Those buckets count as changed
// now so one refresh is started per period.
func (t *table) maintenance(now time.Time) (ping []netip.AddrPort, refresh []ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, b := range t.buckets {
		if len(b.replacements) > 0 {
			var q *tableNode
			for _, n := range b.nodes {
				if n.status(now) == statusQuestionable && !n.pinging && (q == nil || n.lastSeen().Before(q.lastSeen())) {
					q = n
				}
			}
			if q != nil {
				q.pinging = true
				ping = append(ping, q.addr)
			}
		}
		if now.Sub(b.lastChanged) >= bucketRefresh {
			b.lastChanged = now
			// For the last bucket, which also covers every longer
			// prefix, a target sharing exactly i bits is as good as any.
			refresh = append(refresh, randomIDWithPrefix(t.self, i))
		}
	}
	return ping, refresh
}

// sparseTargets returns a random target in every bucket but the last that
// is not full: Kademlia's join "refreshes all k-buckets further away than
// its closest neighbor" after looking up its own id.
func (t *table) sparseTargets() []ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ID
	for i, b := range t.buckets[:len(t.buckets)-1] {
		if len(b.nodes) < bucketSize {
			out = append(out, randomIDWithPrefix(t.self, i))
		}
	}
	return out
}

// pingDone clears the pinging mark of the node at addr after a ping could
// not be sent.
func (t *table) pingDone(addr netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.findAddr(addr); n != nil {
		n.pinging = false
	}
}
