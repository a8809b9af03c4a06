package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"shoal/dht/krpc"
	"shoal/dht/traversal"
	"shoal/metainfo"
)

// errNoContacts is returned by a lookup that had no node to start from.
var errNoContacts = errors.New("dht: no nodes to query (empty routing table and no bootstrap nodes)")

// errNoAnswers is returned by a lookup in which no node answered.
var errNoAnswers = errors.New("dht: no node answered")

// contacts returns the nodes of our family in a reply, as traversal
// candidates, leaving out unusable addresses.
func (n *Node) contacts(r *krpc.Return) []traversal.Node {
	list := []krpc.NodeInfo(r.Nodes)
	if n.v6 {
		list = r.Nodes6
	}
	out := make([]traversal.Node, 0, len(list))
	for _, c := range list {
		if n.usable(c.Addr) && ID(c.ID) != n.id {
			out = append(out, traversal.Node{ID: c.ID, Addr: c.Addr})
		}
	}
	return out
}

// startNodes returns the lookup's first candidates: the table's closest
// nodes, or when the table is nearly empty also the nodes from the state
// file and the bootstrap routers (with zero ids, which traversal tries
// last).
func (n *Node) startNodes(ctx context.Context, target [20]byte) []traversal.Node {
	start := n.table.closest(target, 2*bucketSize, time.Now())
	if len(start) >= bucketSize {
		return start
	}
	start = append(start, n.savedNodes...)
	return append(start, n.resolveBootstrap(ctx)...)
}

// Resolved bootstrap addresses are reused for a while, so lookups from a
// nearly empty table do not each wait for DNS.
const (
	bootstrapCacheTTL      = 30 * time.Minute
	bootstrapRetryInterval = time.Minute // after nothing resolved
)

// resolveBootstrap returns Config.Bootstrap resolved to addresses of our
// family, from the cache when it is fresh.
func (n *Node) resolveBootstrap(ctx context.Context) []traversal.Node {
	if len(n.cfg.Bootstrap) == 0 {
		return nil
	}
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if time.Now().Before(n.bootExpires) {
		return n.bootAddrs
	}
	n.bootAddrs = n.lookupBootstrap(ctx)
	ttl := bootstrapCacheTTL
	if len(n.bootAddrs) == 0 {
		ttl = bootstrapRetryInterval
	}
	if ctx.Err() == nil {
		n.bootExpires = time.Now().Add(ttl)
	}
	return n.bootAddrs
}

// lookupBootstrap resolves Config.Bootstrap. Names that do not resolve are
// skipped (and logged).
func (n *Node) lookupBootstrap(ctx context.Context) []traversal.Node {
	network := "ip4"
	if n.v6 {
		network = "ip6"
	}
	var out []traversal.Node
	for _, hp := range n.cfg.Bootstrap {
		host, portStr, err := net.SplitHostPort(hp)
		port, perr := strconv.ParseUint(portStr, 10, 16)
		if err != nil || perr != nil || port == 0 {
			n.log.Warn("dht: bad bootstrap address", "addr", hp)
			continue
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip.Unmap()}
		} else {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ips, err = net.DefaultResolver.LookupNetIP(rctx, network, host)
			cancel()
			if err != nil {
				n.log.Info("dht: resolve bootstrap node", "addr", hp, "err", err)
				continue
			}
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
			if n.usable(ap) {
				out = append(out, traversal.Node{Addr: ap})
			}
		}
	}
	return out
}

// findNode runs a find_node lookup of target and returns its result.
func (n *Node) findNode(ctx context.Context, target [20]byte) (traversal.Result, error) {
	start := n.startNodes(ctx, target)
	if len(start) == 0 {
		return traversal.Result{}, errNoContacts
	}
	res := traversal.Run(ctx, traversal.Config{
		Target: target,
		Start:  start,
		Query: func(ctx context.Context, c traversal.Node) ([]traversal.Node, error) {
			t := target
			m, err := n.query(ctx, c.Addr, krpc.MethodFindNode, &krpc.Args{Target: &t})
			if err != nil {
				return nil, err
			}
			return n.contacts(m.R), nil
		},
	})
	if len(res.Closest) == 0 {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, errNoAnswers
	}
	return res, nil
}

// Bootstrap looks up our own id (BEP 5: "find the closest nodes in the DHT
// to itself") starting from the routing table, the state file's nodes and
// the bootstrap routers, then, as Kademlia's join does, looks up a random
// id in every farther bucket that is not full, and waits for the lookups
// to end. Every node that answers enters the table.
func (n *Node) Bootstrap(ctx context.Context) error {
	if _, err := n.findNode(ctx, n.id); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, target := range n.table.sparseTargets() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.findNode(ctx, target)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// maxPeersPerLookup bounds the peers one lookup remembers (and reports).
const maxPeersPerLookup = 10000

// peerLookup is the shared state of one get_peers lookup, written by the
// lookup's concurrent queries.
type peerLookup struct {
	mu     sync.Mutex
	seen   map[netip.AddrPort]bool
	tokens map[netip.AddrPort]string // write tokens by node address
	found  func([]netip.AddrPort)
	seeds  bloomFilter // BEP 33 filters received, ORed
	peers  bloomFilter
	blooms int // replies that carried filters
}

// getPeers runs a get_peers lookup of ih with k results; found gets each
// new peer once, never from two goroutines at a time.
func (n *Node) getPeers(ctx context.Context, ih metainfo.InfoHash, k int, scrape bool, found func([]netip.AddrPort)) (*peerLookup, traversal.Result, error) {
	pl := &peerLookup{seen: make(map[netip.AddrPort]bool), tokens: make(map[netip.AddrPort]string), found: found}
	start := n.startNodes(ctx, ih)
	if len(start) == 0 {
		return pl, traversal.Result{}, errNoContacts
	}
	res := traversal.Run(ctx, traversal.Config{
		Target: ih,
		K:      k,
		Start:  start,
		Query: func(ctx context.Context, c traversal.Node) ([]traversal.Node, error) {
			h := [20]byte(ih)
			args := &krpc.Args{InfoHash: &h}
			if scrape {
				args.Scrape = 1
			}
			m, err := n.query(ctx, c.Addr, krpc.MethodGetPeers, args)
			if err != nil {
				return nil, err
			}
			pl.record(c.Addr, m.R, n)
			return n.contacts(m.R), nil
		},
	})
	if len(res.Closest) == 0 {
		if ctx.Err() != nil {
			return pl, res, ctx.Err()
		}
		return pl, res, errNoAnswers
	}
	return pl, res, nil
}

// record keeps a get_peers reply's token and filters and reports its new
// peers.
func (pl *peerLookup) record(from netip.AddrPort, r *krpc.Return, n *Node) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if r.Token != "" {
		pl.tokens[from] = r.Token
	}
	if r.BFsd != nil && r.BFpe != nil {
		pl.seeds.union(r.BFsd)
		pl.peers.union(r.BFpe)
		pl.blooms++
	}
	var fresh []netip.AddrPort
	for _, p := range r.Values {
		p = netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
		if p.Port() == 0 || p.Addr().IsUnspecified() || p.Addr().Is6() != n.v6 || pl.seen[p] || len(pl.seen) >= maxPeersPerLookup {
			continue
		}
		pl.seen[p] = true
		fresh = append(fresh, p)
	}
	if len(fresh) > 0 && pl.found != nil {
		pl.found(fresh)
	}
}

// GetPeers looks up the peers of ih and reports them through found as
// replies arrive (each peer once; found is never called concurrently). It
// returns when the lookup ends.
func (n *Node) GetPeers(ctx context.Context, ih metainfo.InfoHash, found func([]netip.AddrPort)) error {
	_, _, err := n.getPeers(ctx, ih, bucketSize, false, found)
	return err
}

// Announce runs a get_peers lookup of ih (peers go to found as they come)
// and then announces us, at TCP port port, to the 8 closest nodes that
// gave a write token. Nodes whose id matches their address (BEP 42) are
// preferred. Port 0 sends implied_port=1: the announce's UDP source port is
// our peer port.
func (n *Node) Announce(ctx context.Context, ih metainfo.InfoHash, port int, found func([]netip.AddrPort)) error {
	return n.announce(ctx, ih, port, false, found)
}

// AnnounceSeed is Announce for a torrent we seed: the announces carry
// seed=1 so BEP 33 scrapes count us as a seed.
func (n *Node) AnnounceSeed(ctx context.Context, ih metainfo.InfoHash, port int, found func([]netip.AddrPort)) error {
	return n.announce(ctx, ih, port, true, found)
}

func (n *Node) announce(ctx context.Context, ih metainfo.InfoHash, port int, seed bool, found func([]netip.AddrPort)) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("dht: announce port %d out of range", port)
	}
	// Look for twice K answering nodes so that 8 with tokens remain when
	// some gave none or fail BEP 42.
	pl, res, err := n.getPeers(ctx, ih, 2*bucketSize, false, found)
	if err != nil {
		return err
	}
	targets := n.storeTargets(pl, res.Closest)
	if len(targets) == 0 {
		return errors.New("dht: announce: no node gave a write token")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok int
	var lastErr error
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := [20]byte(ih)
			args := &krpc.Args{InfoHash: &h, Port: port, Token: t.token}
			if seed {
				args.Seed = 1
			}
			if port == 0 {
				args.Port, args.ImpliedPort = int(n.addr.Port()), 1
			}
			_, err := n.query(ctx, t.addr, krpc.MethodAnnouncePeer, args)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
				return
			}
			ok++
		}()
	}
	wg.Wait()
	if ok == 0 {
		return fmt.Errorf("dht: announce accepted by no node: %w", lastErr)
	}
	return nil
}

// storeTarget is a node we can store at, with the token it gave us.
type storeTarget struct {
	addr  netip.AddrPort
	token string
}

// storeTargets picks up to K nodes of closest (closest first) that gave a
// token, those with BEP 42 compliant ids first (BEP 42 "Enforcement").
func (n *Node) storeTargets(pl *peerLookup, closest []traversal.Node) []storeTarget {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var good, other []storeTarget
	for _, c := range closest {
		tok, ok := pl.tokens[c.Addr]
		if !ok {
			continue
		}
		if VerifyID(c.ID, c.Addr.Addr()) {
			good = append(good, storeTarget{c.Addr, tok})
		} else {
			other = append(other, storeTarget{c.Addr, tok})
		}
	}
	return slices.Concat(good, other)[:min(bucketSize, len(good)+len(other))]
}

// Scrape estimates the seeds and peers of ih with BEP 33: a get_peers
// lookup with scrape=1, then get_peers again to the closest nodes with the
// token each gave (which proves our address, so they can afford the 512
// bytes of filters within their amplification bound), the filters ORed
// and their sizes estimated. A swarm nobody stores gives 0, 0.
func (n *Node) Scrape(ctx context.Context, ih metainfo.InfoHash) (seeds, peers int, err error) {
	pl, res, err := n.getPeers(ctx, ih, bucketSize, true, nil)
	if err != nil {
		return 0, 0, err
	}
	targets := n.storeTargets(pl, res.Closest)
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := [20]byte(ih)
			m, err := n.query(ctx, t.addr, krpc.MethodGetPeers, &krpc.Args{InfoHash: &h, Scrape: 1, Token: t.token})
			if err == nil {
				pl.record(t.addr, m.R, n)
			}
		}()
	}
	wg.Wait()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	// No filters at all means no node stores anything for ih (BEP 33
	// sends them only then): an empty swarm.
	return int(pl.seeds.estimate() + 0.5), int(pl.peers.estimate() + 0.5), nil
}
