package dht

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// storedPeer is one announced peer of a torrent.
type storedPeer struct {
	port    uint16
	seed    bool      // announced with seed=1 (BEP 33)
	expires time.Time // announce time plus the TTL
}

// peerStore keeps the peers announced to us, per info hash, each for a
// TTL. BEP 33 asks for one entry per (info hash, IP), the port and seed
// flag updated by later announces. Both the number of info hashes and the
// peers per info hash are bounded.
type peerStore struct {
	mu          sync.Mutex
	maxTorrents int
	maxPeers    int
	ttl         time.Duration
	torrents    map[[20]byte]map[netip.Addr]*storedPeer
	peers       int // total entries

	samples   [][20]byte // BEP 51 sample set, recomputed every sampleInterval
	sampledAt time.Time
}

func newPeerStore(maxTorrents, maxPeers int, ttl time.Duration) *peerStore {
	return &peerStore{maxTorrents: maxTorrents, maxPeers: maxPeers, ttl: ttl,
		torrents: make(map[[20]byte]map[netip.Addr]*storedPeer)}
}

// add stores or refreshes a peer. It reports false when the store is full:
// a new info hash beyond maxTorrents. A torrent at maxPeers drops the peer
// that expires soonest to make room, so fresh announces win.
func (s *peerStore) add(ih [20]byte, addr netip.AddrPort, seed bool, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ip := addr.Addr().Unmap()
	peers := s.torrents[ih]
	if peers == nil {
		if len(s.torrents) >= s.maxTorrents {
			s.expireLocked(now)
			if len(s.torrents) >= s.maxTorrents {
				return false
			}
		}
		peers = make(map[netip.Addr]*storedPeer)
		s.torrents[ih] = peers
	}
	if p := peers[ip]; p != nil {
		p.port, p.seed, p.expires = addr.Port(), seed, now.Add(s.ttl)
		return true
	}
	if len(peers) >= s.maxPeers {
		var oldest netip.Addr
		var oldestAt time.Time
		for a, p := range peers {
			if !oldest.IsValid() || p.expires.Before(oldestAt) {
				oldest, oldestAt = a, p.expires
			}
		}
		delete(peers, oldest)
		s.peers--
	}
	peers[ip] = &storedPeer{port: addr.Port(), seed: seed, expires: now.Add(s.ttl)}
	s.peers++
	return true
}

// get returns up to limit live peers of ih in random order, only those of
// the address family asked for (BEP 32: values match the query's family).
// With noseed, non-seeds come first (BEP 33).
func (s *peerStore) get(ih [20]byte, limit int, v6, noseed bool, now time.Time) []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, rest []netip.AddrPort
	for ip, p := range s.torrents[ih] {
		if !now.Before(p.expires) || ip.Is4() == v6 {
			continue
		}
		ap := netip.AddrPortFrom(ip, p.port)
		if noseed && p.seed {
			rest = append(rest, ap)
		} else {
			first = append(first, ap)
		}
	}
	rand.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	out := append(first, rest...)
	return out[:min(limit, len(out))]
}

// bloom returns the BEP 33 filters of ih's seeds and peers, or ok false
// when nothing is stored for it.
func (s *peerStore) bloom(ih [20]byte, now time.Time) (seeds, peers *bloomFilter, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seeds, peers = new(bloomFilter), new(bloomFilter)
	for ip, p := range s.torrents[ih] {
		if !now.Before(p.expires) {
			continue
		}
		ok = true
		if p.seed {
			seeds.add(ip)
		} else {
			peers.add(ip)
		}
	}
	return seeds, peers, ok
}

// expire drops peers past their TTL and torrents left empty.
func (s *peerStore) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
}

func (s *peerStore) expireLocked(now time.Time) {
	for ih, peers := range s.torrents {
		for ip, p := range peers {
			if !now.Before(p.expires) {
				delete(peers, ip)
				s.peers--
			}
		}
		if len(peers) == 0 {
			delete(s.torrents, ih)
		}
	}
}

// counts returns the number of info hashes and of peers stored.
func (s *peerStore) counts() (torrents, peers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.torrents), s.peers
}

// sample returns BEP 51's answer: a random subset of the stored info
// hashes (kept for sampleInterval so repeated requests learn nothing new),
// at most limit of them, and how many are stored.
func (s *peerStore) sample(limit int, now time.Time) (samples [][20]byte, num int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == nil || now.Sub(s.sampledAt) >= sampleInterval*time.Second {
		s.samples = s.samples[:0]
		for ih := range s.torrents { // map order is random
			if len(s.samples) == limit {
				break
			}
			s.samples = append(s.samples, ih)
		}
		s.sampledAt = now
	}
	return slices.Clone(s.samples[:min(limit, len(s.samples))]), len(s.torrents)
}
