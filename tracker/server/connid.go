package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// connIDPeriod is how often the connection-id key rotates. An id is made
// with the current key and accepted under the current and the previous one,
// so it stays valid between one and two periods: BEP 15 lets a client use a
// connection id for one minute, and asks servers to accept it for two.
const connIDPeriod = time.Minute

// connIDKeys holds the HMAC keys of the current and previous period.
type connIDKeys struct {
	mu     sync.Mutex
	period int64 // index of the current period (Unix time / connIDPeriod)
	cur    [32]byte
	prev   [32]byte
}

func newConnIDKeys(now time.Time) *connIDKeys {
	k := &connIDKeys{period: now.UnixNano() / int64(connIDPeriod)}
	rand.Read(k.cur[:])
	rand.Read(k.prev[:])
	return k
}

// at returns the keys in force at now, rotating them if periods passed. A
// gap of two periods or more replaces both keys, so old ids die.
func (k *connIDKeys) at(now time.Time) (period int64, cur, prev [32]byte) {
	p := now.UnixNano() / int64(connIDPeriod)
	k.mu.Lock()
	defer k.mu.Unlock()
	if p > k.period {
		if p == k.period+1 {
			k.prev = k.cur
		} else {
			rand.Read(k.prev[:])
		}
		rand.Read(k.cur[:])
		k.period = p
	}
	return k.period, k.cur, k.prev
}

// connIDSigner computes and checks connection ids. One belongs to each UDP
// reader goroutine, so the HMAC states are reused without locking.
type connIDSigner struct {
	keys   *connIDKeys
	period int64
	cur    hash.Hash
	prev   hash.Hash
	buf    [18]byte
	sum    [sha256.Size]byte
}

func newConnIDSigner(keys *connIDKeys) *connIDSigner {
	return &connIDSigner{keys: keys, period: -1}
}

// refresh re-keys the HMACs when the period changed since the last call.
func (s *connIDSigner) refresh(now time.Time) {
	if now.UnixNano()/int64(connIDPeriod) == s.period {
		return
	}
	period, cur, prev := s.keys.at(now)
	s.period = period
	s.cur = hmac.New(sha256.New, cur[:])
	s.prev = hmac.New(sha256.New, prev[:])
}

// mac is the first 8 bytes of HMAC-SHA-256 of the client's address.
func (s *connIDSigner) mac(h hash.Hash, addr netip.AddrPort) uint64 {
	a := addr.Addr().As16()
	copy(s.buf[:16], a[:])
	binary.BigEndian.PutUint16(s.buf[16:], addr.Port())
	h.Reset()
	h.Write(s.buf[:])
	return binary.BigEndian.Uint64(h.Sum(s.sum[:0]))
}

// New returns a connection id for addr.
func (s *connIDSigner) New(addr netip.AddrPort, now time.Time) uint64 {
	s.refresh(now)
	return s.mac(s.cur, addr)
}

// Valid reports whether id was issued to addr within the last one to two
// periods.
func (s *connIDSigner) Valid(id uint64, addr netip.AddrPort, now time.Time) bool {
	s.refresh(now)
	// The XOR-then-compare does not leak which bytes matched.
	return id^s.mac(s.cur, addr) == 0 || id^s.mac(s.prev, addr) == 0
}
