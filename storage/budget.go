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
	// notify holds NotifyWhenFree's subscribers, oldest first.
	notify []budgetNotice
}

// budgetNotice is a NotifyWhenFree subscription.
type budgetNotice struct {
	n  int64
	ch chan struct{}
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

// Room reports how many pieces of n bytes could be taken now (at least
// one when nothing is in use: a piece larger than the budget fits alone).
// A caller that plans by it must still take each piece with TryAcquire:
// others may take the room first.
func (b *Budget) Room(n int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case n <= 0:
		return int(^uint(0) >> 1)
	case b.waiters.Len() > 0:
		return 0
	case b.inUse == 0:
		return max(int(b.limit/n), 1)
	}
	return int(max(b.limit-b.inUse, 0) / n)
}

// NotifyWhenFree returns a channel that is closed once n bytes could be
// taken: at once if they can now, else by the Release that frees them.
// Subscribers are woken oldest first and only as many as the freed bytes
// can serve, so a release does not wake every starved caller at once. The
// bytes are not reserved: the woken caller tries TryAcquire, and
// subscribes again if someone else was faster. A subscription nobody
// waits for any more costs only its place in the queue until it is served.
func (b *Budget) NotifyWhenFree(n int64) <-chan struct{} {
	ch := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.notify) == 0 && b.waiters.Len() == 0 && b.fits(n) {
		close(ch)
		return ch
	}
	b.notify = append(b.notify, budgetNotice{n: n, ch: ch})
	return ch
}

// wakeNotified closes the channels of the oldest subscribers whose bytes
// fit in what is free now, counting each served one as taken. b.mu must be
// held.
func (b *Budget) wakeNotified() {
	inUse := b.inUse
	served := 0
	for _, w := range b.notify {
		if inUse != 0 && inUse+w.n > b.limit {
			break
		}
		inUse += w.n
		close(w.ch)
		served++
	}
	if served > 0 {
		clear(b.notify[:served])
		b.notify = b.notify[served:]
		if len(b.notify) == 0 {
			b.notify = nil // let the backing array go
		}
	}
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
	if b.waiters.Len() == 0 {
		b.wakeNotified() // blocking Acquire callers are served first
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
