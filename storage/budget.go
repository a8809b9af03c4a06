package storage

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// Budget is a fixed amount of memory, in bytes, for pieces in flight: the
// engine acquires a piece's size before it starts downloading the piece and
// releases it once the piece is written or abandoned.
//
// Waiters are served in arrival order, so a large request is not starved by
// a stream of small ones. A request larger than the whole budget is granted
// when nothing else is in use (it then has the budget to itself): with a
// budget smaller than one piece (say 16 MiB pieces and an 8 MiB budget)
// downloads still proceed, one piece at a time, instead of deadlocking.
//
// A Budget is safe for concurrent use.
type Budget struct {
	mu      sync.Mutex
	limit   int64
	inUse   int64
	waiters list.List // of *budgetWaiter, oldest first
	// freed is closed by the next Release; nil until someone asks for it
	// (TryAcquireOrNotify).
	freed chan struct{}
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes have been granted
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: max(limit, 0)}
}

// fits reports whether n more bytes can be granted now.
func (b *Budget) fits(n int64) bool {
	return b.inUse == 0 || b.inUse+n <= b.limit
}

// Acquire takes n bytes, waiting until they are free or ctx ends (then it
// returns ctx.Err() and takes nothing).
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.fits(n) {
		b.inUse += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted just as ctx ended: give the bytes back.
			b.inUse -= n
			b.grant()
		default:
			isFront := b.waiters.Front() == elem
			b.waiters.Remove(elem)
			// The waiters behind us may fit now that we are gone.
			if isFront {
				b.grant()
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// TryAcquire takes n bytes if they are free right now and nobody is waiting.
func (b *Budget) TryAcquire(n int64) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiters.Len() == 0 && b.fits(n) {
		b.inUse += n
		return true
	}
	return false
}

// TryAcquireOrNotify is TryAcquire, and when it fails it returns a channel
// that the next Release closes, so the caller can try again then instead
// of polling. Taking both under one lock means no Release can slip in
// between the failure and the wait.
func (b *Budget) TryAcquireOrNotify(n int64) (ok bool, freed <-chan struct{}) {
	if n <= 0 {
		return true, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiters.Len() == 0 && b.fits(n) {
		b.inUse += n
		return true, nil
	}
	if b.freed == nil {
		b.freed = make(chan struct{})
	}
	return false, b.freed
}

// Room reports how many pieces of n bytes could be taken now, and when
// that is fewer than want, a channel that the next Release closes (as
// TryAcquireOrNotify's). A caller that plans by it must still take each
// piece with TryAcquire: others may take the room first.
func (b *Budget) Room(n int64, want int) (pieces int, freed <-chan struct{}) {
	if n <= 0 {
		return want, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.waiters.Len() > 0:
		pieces = 0
	case b.inUse == 0:
		pieces = max(int(b.limit/n), 1) // a piece larger than the budget fits alone
	default:
		pieces = int(max(b.limit-b.inUse, 0) / n)
	}
	if pieces >= want {
		return pieces, nil
	}
	if b.freed == nil {
		b.freed = make(chan struct{})
	}
	return pieces, b.freed
}

// Release gives back n bytes taken by Acquire or TryAcquire. Releasing more
// than is in use is a bug in the caller and panics.
func (b *Budget) Release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.inUse {
		panic(fmt.Sprintf("storage: Budget.Release(%d) with only %d bytes in use", n, b.inUse))
	}
	b.inUse -= n
	b.grant()
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
}

// grant wakes waiters, oldest first, while they fit. b.mu must be held.
func (b *Budget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if !b.fits(w.n) {
			return
		}
		b.inUse += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}

// InUse returns the bytes currently taken.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inUse
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }
