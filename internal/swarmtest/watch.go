package swarmtest

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Watch samples the goroutine count and the heap in use while a test
// runs, so the test can assert that a hostile peer's work stays bounded.
type Watch struct {
	baseGoroutines int
	baseHeap       uint64

	stopC chan struct{}
	wg    sync.WaitGroup

	mu             sync.Mutex
	peakGoroutines int
	peakHeap       uint64
}

// StartWatch takes the baseline (after a garbage collection) and samples
// from now on until Stop.
func StartWatch() *Watch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &Watch{
		baseGoroutines: runtime.NumGoroutine(),
		baseHeap:       ms.HeapInuse,
		stopC:          make(chan struct{}),
	}
	w.peakGoroutines, w.peakHeap = w.baseGoroutines, w.baseHeap
	w.wg.Add(1)
	go w.sample()
	return w
}

func (w *Watch) sample() {
	defer w.wg.Done()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		g := runtime.NumGoroutine() - 1 // not this one
		var heap uint64
		if i%4 == 0 { // ReadMemStats stops the world: not too often
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = ms.HeapInuse
		}
		w.mu.Lock()
		w.peakGoroutines = max(w.peakGoroutines, g)
		w.peakHeap = max(w.peakHeap, heap)
		w.mu.Unlock()
		select {
		case <-tick.C:
		case <-w.stopC:
			return
		}
	}
}

// Stop ends the sampling.
func (w *Watch) Stop() {
	select {
	case <-w.stopC:
	default:
		close(w.stopC)
	}
	w.wg.Wait()
}

// Peaks returns the largest growth over the baseline seen so far: of the
// goroutine count, and of the heap in use in bytes.
func (w *Watch) Peaks() (goroutines int, heap int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peakGoroutines - w.baseGoroutines, int64(w.peakHeap) - int64(w.baseHeap)
}

// Check stops the watch and fails the test if the goroutine count ever
// grew by more than maxGoroutines, or the heap in use by more than
// maxHeap bytes, over the baseline; then it waits (up to 5 s) for the
// goroutine count to come back within maxGoroutines of the baseline, so
// what a hostile peer made the session start has ended.
func (w *Watch) Check(t testing.TB, maxGoroutines int, maxHeap int64) {
	t.Helper()
	w.Stop()
	g, h := w.Peaks()
	t.Logf("peak growth: %d goroutines, %d KiB heap in use", g, h>>10)
	if g > maxGoroutines {
		t.Errorf("goroutines grew by %d (from %d), more than %d", g, w.baseGoroutines, maxGoroutines)
	}
	if h > maxHeap {
		t.Errorf("heap in use grew by %d KiB (from %d KiB), more than %d KiB", h>>10, w.baseHeap>>10, maxHeap>>10)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > w.baseGoroutines+maxGoroutines {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			t.Errorf("%d goroutines left, %d at the start:\n%s", runtime.NumGoroutine(), w.baseGoroutines, trimStacks(stacks))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trimStacks keeps the engine's goroutines of a full stack dump.
func trimStacks(s string) string {
	var keep []string
	for _, g := range strings.Split(s, "\n\n") {
		if strings.Contains(g, "shoal/") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}
