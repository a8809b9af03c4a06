package ratemeter

import (
	"math"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

func TestMeterRate(t *testing.T) {
	tests := []struct {
		name string
		adds []add
		now  time.Duration
		want float64
	}{
		{"empty", nil, 5 * time.Second, 0},
		{"young meter divides by its age", []add{{0, 0}, {2 * time.Second, 3000}}, 3 * time.Second, 1000},
		{"at least one bucket", []add{{0, 5000}}, 10 * time.Millisecond, 5000},
		{"steady 1000/s over full window",
			steady(0, 60, 1000), 60*time.Second + 500*time.Millisecond,
			// buckets 41..60 hold 20 adds; they cover [41 s, 60.5 s)
			20000 / 19.5},
		{"old data slides out", []add{{0, 0}, {time.Second, 1 << 20}}, 25 * time.Second, 0},
		{"partly slid out",
			[]add{{0, 0}, {1 * time.Second, 1000}, {15 * time.Second, 1000}}, 21*time.Second + 500*time.Millisecond,
			// window = buckets 2..21 = [2 s, 21.5 s): only the second add
			1000 / 19.5},
		{"gap longer than window clears everything",
			[]add{{0, 100}, {time.Second, 100}, {100 * time.Second, 400}}, 101 * time.Second,
			// buckets 82..101 = [82 s, 101 s)
			400.0 / 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Meter
			var total int64
			for _, a := range tc.adds {
				m.Add(a.n, at(a.at))
				total += a.n
			}
			if got := m.Rate(at(tc.now)); !near(got, tc.want) {
				t.Errorf("Rate = %v, want %v", got, tc.want)
			}
			if m.Total() != total {
				t.Errorf("Total = %d, want %d", m.Total(), total)
			}
		})
	}
}

// add is one Meter.Add call at an offset from t0.
type add struct {
	at time.Duration
	n  int64
}

// steady adds perSecond bytes at every whole second from..to.
func steady(from, to int, perSecond int64) []add {
	var out []add
	for s := from; s <= to; s++ {
		out = append(out, add{time.Duration(s) * time.Second, perSecond})
	}
	return out
}

func TestMeterSteadyRateConverges(t *testing.T) {
	m := NewBuckets(10*time.Second, 10)
	if m.Window() != 10*time.Second {
		t.Fatalf("Window = %v", m.Window())
	}
	// 250 KB/s delivered in 16 KiB-ish chunks every 64 ms for 30 s.
	const perSec = 250_000.0
	step := 64 * time.Millisecond
	for d := time.Duration(0); d < 30*time.Second; d += step {
		m.Add(int64(perSec*step.Seconds()), at(d))
	}
	got := m.Rate(at(30 * time.Second))
	if math.Abs(got-perSec)/perSec > 0.02 {
		t.Errorf("Rate = %v, want about %v", got, perSec)
	}
}

func TestMeterSample(t *testing.T) {
	var c Counter
	var m Meter
	m.Sample(c.Load(), at(0))
	for s := 1; s <= 5; s++ {
		c.Add(2000)
		m.Sample(c.Load(), at(time.Duration(s)*time.Second))
	}
	if m.Total() != 10000 {
		t.Errorf("Total = %d, want 10000", m.Total())
	}
	if got := m.Rate(at(5 * time.Second)); !near(got, 2000) {
		t.Errorf("Rate = %v, want 2000", got)
	}
	// A replaced counter (smaller total) is a new baseline, not negative bytes.
	m.Sample(500, at(6*time.Second))
	if m.Total() != 10000 {
		t.Errorf("Total after baseline reset = %d, want 10000", m.Total())
	}
	m.Sample(1500, at(7*time.Second))
	if m.Total() != 11000 {
		t.Errorf("Total = %d, want 11000", m.Total())
	}
}

func TestMeterClockBackwards(t *testing.T) {
	var m Meter
	m.Add(1000, at(10*time.Second))
	m.Add(1000, at(12*time.Second))
	m.Add(1000, at(11*time.Second)) // counted in the current bucket
	m.Add(1000, at(5*time.Second))  // before start: still counted
	if m.Total() != 4000 {
		t.Errorf("Total = %d", m.Total())
	}
	if got := m.Rate(at(14 * time.Second)); !near(got, 1000) {
		t.Errorf("Rate = %v, want 1000", got)
	}
	if got := m.Rate(at(0)); got <= 0 || math.IsInf(got, 0) || math.IsNaN(got) {
		t.Errorf("Rate before start = %v, want finite positive", got)
	}
}

func TestMeterReset(t *testing.T) {
	var m Meter
	m.Add(1000, at(0))
	m.Sample(700, at(time.Second))
	m.Reset()
	if m.Total() != 0 || m.Rate(at(100*time.Second)) != 0 {
		t.Fatalf("after Reset: Total %d Rate %v", m.Total(), m.Rate(at(100*time.Second)))
	}
	m.Add(3000, at(101*time.Second))
	// The Rate call at 100 s was the first observation after the reset.
	if got := m.Rate(at(103 * time.Second)); !near(got, 1000) {
		t.Errorf("Rate = %v, want 1000 (age measured from the reset)", got)
	}
}

func TestNewClamps(t *testing.T) {
	tests := []struct {
		window     time.Duration
		buckets    int
		wantWindow time.Duration
		wantLen    int
	}{
		{0, 0, DefaultWindow, DefaultBuckets},
		{-time.Second, -3, DefaultWindow, DefaultBuckets},
		{5 * time.Second, 0, 5 * time.Second, DefaultBuckets},
		{10, 100, 10, 10},
		{time.Minute, 60, time.Minute, 60},
	}
	for _, tc := range tests {
		m := NewBuckets(tc.window, tc.buckets)
		if m.Window() != tc.wantWindow || len(m.buckets) != tc.wantLen {
			t.Errorf("NewBuckets(%v, %d): window %v, %d buckets; want %v, %d",
				tc.window, tc.buckets, m.Window(), len(m.buckets), tc.wantWindow, tc.wantLen)
		}
	}
}

func TestNewDefaultBuckets(t *testing.T) {
	m := New(10 * time.Second)
	if m.Window() != 10*time.Second || len(m.buckets) != DefaultBuckets || m.bucket != 500*time.Millisecond {
		t.Errorf("New(10s): window %v, %d buckets of %v", m.Window(), len(m.buckets), m.bucket)
	}
	if d := New(0); d.Window() != DefaultWindow || d.bucket != time.Second {
		t.Errorf("New(0): window %v, bucket %v", d.Window(), d.bucket)
	}
}

func TestMeterNoAllocs(t *testing.T) {
	var m Meter
	m.Add(1, at(0))
	now := at(0)
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(300 * time.Millisecond)
		m.Add(16384, now)
		m.Sample(m.Total(), now)
		_ = m.Rate(now)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Add/Sample/Rate, want 0", allocs)
	}
}

func TestCounterConcurrent(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Add(3)
			}
		})
	}
	var m Meter
	for i := range 10 {
		m.Sample(c.Load(), at(time.Duration(i)*time.Second))
	}
	wg.Wait()
	m.Sample(c.Load(), at(10*time.Second))
	if c.Load() != 12000 || m.Total() != 12000 {
		t.Errorf("Counter %d, Meter total %d; want 12000", c.Load(), m.Total())
	}
}

func BenchmarkMeterAdd(b *testing.B) {
	var m Meter
	now := at(0)
	for b.Loop() {
		now = now.Add(time.Millisecond)
		m.Add(16384, now)
	}
}
