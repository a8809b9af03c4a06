package dht

import (
	"net/netip"
	"sync"
	"time"
)

// sourceBucket is a token bucket for one source IP.
type sourceBucket struct {
	tokens float64
	last   time.Time
}

// sourceLimiter limits incoming queries per source IP with a token bucket
// each. It remembers at most max sources: when full it forgets the idle
// ones (whose bucket has refilled, so forgetting them changes nothing) and,
// if every source is busy, an arbitrary eighth of them, so a flood from
// many addresses costs bounded memory.
type sourceLimiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	max     int
	sources map[netip.Addr]*sourceBucket
}

func newSourceLimiter(rate float64, burst, max int) *sourceLimiter {
	return &sourceLimiter{rate: rate, burst: float64(burst), max: max, sources: make(map[netip.Addr]*sourceBucket)}
}

// allow takes a token for ip and reports whether there was one.
func (l *sourceLimiter) allow(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[ip]
	if b == nil {
		if len(l.sources) >= l.max {
			l.evict(now)
		}
		b = &sourceBucket{tokens: l.burst, last: now}
		l.sources[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *sourceLimiter) evict(now time.Time) {
	for ip, b := range l.sources {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.sources, ip)
		}
	}
	if len(l.sources) < l.max {
		return
	}
	drop := max(1, len(l.sources)/8)
	for ip := range l.sources { // map order is random
		delete(l.sources, ip)
		if drop--; drop == 0 {
			break
		}
	}
}

// size returns the number of sources remembered.
func (l *sourceLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}
