package engine

import (
	"crypto/sha1"
	"sync"
	"sync/atomic"
	"time"

	"shoal/internal/sha1x2"
)

// pieceHasher checks downloaded pieces against their SHA-1 hashes, and
// hashes two pieces of the same length together whenever it can
// (internal/sha1x2: about 1.7 times the speed of two single hashes on one
// core).
//
// A piece that arrives while no worker runs starts one, which takes it
// and waits up to pairWait for a partner of the same length: the pieces
// of a fast download arrive a millisecond or two apart, so nearly all are
// hashed in pairs, and a piece waiting to be hashed holds only memory
// (nothing downstream waits on it but its HAVE). A second worker starts
// only when two pieces are queued behind the first, and never more than
// cap(sem). Hashing one piece at a time was 44 % of a leecher's CPU on a
// two-core machine (docs/benchmarks.md, "pair").
type pieceHasher struct {
	// sem bounds the hashing in progress: a worker holds a slot while it
	// hashes one piece or a pair. Its capacity is the number of workers.
	sem chan struct{}
	// stop ends the workers (the session's context); wg counts them.
	stop <-chan struct{}
	wg   *sync.WaitGroup
	// arrived is signalled (without blocking) when a job is queued, for a
	// worker waiting for a partner; capacity 1.
	arrived chan struct{}
	// pairWait is how long a lone piece waits for a partner.
	pairWait time.Duration

	mu      sync.Mutex
	queue   []*hashJob
	workers int

	paired atomic.Int64 // pieces hashed in pairs, for tests
}

// defaultPairWait is pieceHasher.pairWait in a session: a few times the
// interval between 1 MiB pieces at several hundred MB/s.
const defaultPairWait = 3 * time.Millisecond

// hashJob is one piece waiting to be checked.
type hashJob struct {
	data []byte
	want [sha1.Size]byte
	ok   bool          // the hash matched; set before done is closed
	done chan struct{} // closed once hashed
}

// check hashes data and reports whether it matches want. It gives up and
// reports alive = false when done is closed first (the job is still
// hashed later, so data must stay untouched until the process forgets it).
func (h *pieceHasher) check(done <-chan struct{}, data []byte, want [sha1.Size]byte) (ok, alive bool) {
	job := &hashJob{data: data, want: want, done: make(chan struct{})}
	h.mu.Lock()
	h.queue = append(h.queue, job)
	start := h.workers == 0 || (len(h.queue) >= 2 && h.workers < cap(h.sem))
	if start {
		h.workers++
		h.wg.Add(1)
	}
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	if start {
		go h.work()
	}
	select {
	case <-job.done:
		return job.ok, true
	case <-done:
		return false, false
	}
}

// work hashes queued pieces, two at a time when two of the same length
// are waiting, until the queue is empty.
func (h *pieceHasher) work() {
	defer h.wg.Done()
	for {
		select {
		case h.sem <- struct{}{}:
		case <-h.stop:
			h.mu.Lock()
			h.workers--
			h.mu.Unlock()
			return // the waiters give up on their own contexts
		}
		a, b := h.take()
		if a == nil {
			<-h.sem
			return
		}
		if b == nil {
			b = h.waitPartner(a)
		}
		if b == nil {
			a.ok = sha1.Sum(a.data) == a.want
		} else {
			da, db := sha1x2.Sum2(a.data, b.data)
			a.ok, b.ok = da == a.want, db == b.want
			h.paired.Add(2)
			close(b.done)
		}
		<-h.sem
		close(a.done)
	}
}

// take removes the oldest queued job and, if one has the same length, the
// next such job. It returns nil (and counts the worker out) when the queue
// is empty.
func (h *pieceHasher) take() (a, b *hashJob) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.queue) == 0 {
		h.workers--
		return nil, nil
	}
	a = h.queue[0]
	h.queue[0] = nil
	h.queue = h.queue[1:]
	return a, h.partnerLocked(len(a.data))
}

// partnerLocked removes and returns the oldest queued job of n bytes, or
// nil. h.mu must be held.
func (h *pieceHasher) partnerLocked(n int) *hashJob {
	var b *hashJob
	for i, j := range h.queue {
		if len(j.data) == n {
			b = j
			h.queue = append(h.queue[:i], h.queue[i+1:]...)
			break
		}
	}
	if len(h.queue) == 0 {
		h.queue = nil // let the backing array go
	}
	return b
}

// waitPartner waits up to h.pairWait for a job of a's length to arrive
// and takes it; nil if none came.
func (h *pieceHasher) waitPartner(a *hashJob) *hashJob {
	timer := time.NewTimer(h.pairWait)
	defer timer.Stop()
	for {
		select {
		case <-h.arrived:
			h.mu.Lock()
			b := h.partnerLocked(len(a.data))
			h.mu.Unlock()
			if b != nil {
				return b
			}
		case <-timer.C:
			return nil
		case <-h.stop:
			return nil
		}
	}
}
