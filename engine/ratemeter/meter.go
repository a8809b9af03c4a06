package ratemeter

import "time"

// Defaults used by the zero Meter and by New when given non-positive values.
const (
	DefaultWindow  = 20 * time.Second
	DefaultBuckets = 20
)

// Meter is a sliding-window rate meter: bytes are added to time buckets
// (DefaultBuckets buckets over DefaultWindow unless configured with New or
// NewBuckets) and
// Rate divides the bytes in the window by the time the window covers.
//
// The zero value is ready to use with the defaults. A Meter is not safe for
// concurrent use: it belongs to one goroutine (see the package comment for
// how connection goroutines feed it through a Counter). Add, Sample and Rate
// never allocate once the buckets exist (the first call allocates them).
//
// Time is measured from the first call to Add, Sample or Rate, so a peer
// that connected 3 s ago and sent 3 MB has a rate of 1 MB/s, not 3 MB / 20 s.
// Times earlier than one already seen (a clock that stepped back) count in
// the current bucket.
type Meter struct {
	buckets  []int64       // ring of per-bucket byte counts
	bucket   time.Duration // duration of one bucket
	start    time.Time     // time of the first observation
	started  bool          // start is set
	cur      int64         // absolute number of the current bucket since start
	total    int64         // bytes added over the meter's lifetime
	lastSeen int64         // last total passed to Sample
}

// New returns a Meter averaging over window in DefaultBuckets buckets
// (1 s buckets for the default 20 s window). A non-positive window selects
// DefaultWindow.
func New(window time.Duration) *Meter {
	return NewBuckets(window, DefaultBuckets)
}

// NewBuckets returns a Meter averaging over window, split into the given
// number of buckets: more buckets track a changing rate more smoothly. A
// non-positive window or bucket count selects the default; more buckets
// than nanoseconds in the window are reduced to fit.
func NewBuckets(window time.Duration, buckets int) *Meter {
	m := &Meter{}
	m.init(window, buckets)
	return m
}

func (m *Meter) init(window time.Duration, buckets int) {
	if window <= 0 {
		window = DefaultWindow
	}
	if buckets <= 0 {
		buckets = DefaultBuckets
	}
	if int64(buckets) > int64(window) {
		buckets = int(window)
	}
	m.buckets = make([]int64, buckets)
	m.bucket = window / time.Duration(buckets)
}

// Window returns the span of time Rate averages over.
func (m *Meter) Window() time.Duration {
	if m.buckets == nil {
		m.init(0, 0)
	}
	return m.bucket * time.Duration(len(m.buckets))
}

// Add records n bytes transferred at time now.
func (m *Meter) Add(n int64, now time.Time) {
	m.advance(now)
	m.buckets[m.cur%int64(len(m.buckets))] += n
	m.total += n
}

// Sample records the growth of a running total (typically Counter.Load)
// since the previous Sample: it adds total minus the last sampled total.
// The first Sample adds everything counted since zero. A total smaller than
// the last one (a counter that was replaced) is taken as a new baseline and
// adds nothing.
func (m *Meter) Sample(total int64, now time.Time) {
	delta := total - m.lastSeen
	m.lastSeen = total
	if delta < 0 {
		m.advance(now)
		return
	}
	m.Add(delta, now)
}

// Rate returns the average rate in bytes per second over the window ending
// at now. The span divided by is at least one bucket long so that a single
// block right after the first observation does not read as a huge rate.
func (m *Meter) Rate(now time.Time) float64 {
	m.advance(now)
	var sum int64
	for _, b := range m.buckets {
		sum += b
	}
	if sum == 0 {
		return 0
	}
	elapsed := now.Sub(m.start)
	// The ring holds the current bucket and the len-1 before it; buckets
	// before the first observation never existed, so the window starts at
	// the later of the oldest bucket's start and the first observation.
	oldest := m.cur - int64(len(m.buckets)) + 1
	span := elapsed
	if oldest > 0 {
		span -= time.Duration(oldest) * m.bucket
	}
	if span < m.bucket {
		span = m.bucket
	}
	return float64(sum) / span.Seconds()
}

// Total returns every byte added over the meter's lifetime.
func (m *Meter) Total() int64 { return m.total }

// Reset forgets all history; the next call starts a new window.
func (m *Meter) Reset() {
	clear(m.buckets)
	m.started = false
	m.cur = 0
	m.total = 0
	m.lastSeen = 0
}

// advance moves the ring forward to the bucket containing now, zeroing the
// buckets that were skipped.
func (m *Meter) advance(now time.Time) {
	if m.buckets == nil {
		m.init(0, 0)
	}
	if !m.started {
		m.start = now
		m.started = true
		return
	}
	elapsed := now.Sub(m.start)
	if elapsed <= 0 {
		return
	}
	n := int64(elapsed / m.bucket)
	if n <= m.cur {
		return
	}
	size := int64(len(m.buckets))
	if n-m.cur >= size {
		clear(m.buckets)
	} else {
		for b := m.cur + 1; b <= n; b++ {
			m.buckets[b%size] = 0
		}
	}
	m.cur = n
}
