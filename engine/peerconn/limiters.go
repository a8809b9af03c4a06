package peerconn

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Limiters paces bytes through several token buckets at once — the
// session's and the torrent's, say: bytes pass when every bucket allows
// them. Nil entries and unlimited buckets are ignored.
type Limiters []*rate.Limiter

// active returns the buckets that actually limit.
func (ls Limiters) active() Limiters {
	var out Limiters
	for _, l := range ls {
		if l != nil && l.Limit() != rate.Inf {
			out = append(out, l)
		}
	}
	return out
}

// burst is the most one reservation may take from every bucket.
func (ls Limiters) burst() int {
	b := math.MaxInt
	for _, l := range ls {
		b = min(b, l.Burst())
	}
	return b
}

// reservations holds one reservation per bucket.
type reservations []*rate.Reservation

// reserve takes n tokens from every bucket and returns how long to wait
// until all of them are due.
func (ls Limiters) reserve(now time.Time, n int) (reservations, time.Duration, error) {
	rs := make(reservations, 0, len(ls))
	var delay time.Duration
	for _, l := range ls {
		r := l.ReserveN(now, n)
		if !r.OK() {
			rs.cancel()
			return nil, 0, fmt.Errorf("peerconn: rate limiter refuses %d bytes (burst %d)", n, l.Burst())
		}
		rs = append(rs, r)
		delay = max(delay, r.DelayFrom(now))
	}
	return rs, delay, nil
}

// cancel gives the tokens back.
func (rs reservations) cancel() {
	for _, r := range rs {
		r.Cancel()
	}
}

// allowNow takes n tokens from every bucket if all have them right now,
// and takes none otherwise.
func (ls Limiters) allowNow(n int) bool {
	ls = ls.active()
	if len(ls) == 0 {
		return true
	}
	if n > ls.burst() {
		return false
	}
	rs, delay, err := ls.reserve(time.Now(), n)
	if err != nil {
		return false
	}
	if delay > 0 {
		rs.cancel()
		return false
	}
	return true
}

// wait blocks until every bucket allows n bytes, in burst-sized steps
// (a bucket refuses more than its burst at once).
func (ls Limiters) wait(ctx context.Context, n int) error {
	ls = ls.active()
	if len(ls) == 0 {
		return nil
	}
	burst := ls.burst()
	if burst <= 0 {
		return fmt.Errorf("peerconn: rate limiter with burst %d can never allow a byte", burst)
	}
	for n > 0 {
		step := min(n, burst)
		rs, delay, err := ls.reserve(time.Now(), step)
		if err != nil {
			return err
		}
		if delay > 0 {
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				rs.cancel()
				return fmt.Errorf("peerconn: rate limiter: %w", ctx.Err())
			}
		}
		n -= step
	}
	return nil
}
