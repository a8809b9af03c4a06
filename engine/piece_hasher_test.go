package engine

import (
	"crypto/sha1"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func newTestHasher(workers int, pairWait time.Duration) (*pieceHasher, chan struct{}, *sync.WaitGroup) {
	stop := make(chan struct{})
	wg := &sync.WaitGroup{}
	h := &pieceHasher{sem: make(chan struct{}, workers), stop: stop, wg: wg,
		arrived: make(chan struct{}, 1), pairWait: pairWait}
	return h, stop, wg
}

func queued(h *pieceHasher) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// TestPieceHasherPairs: pieces that queue up while hashing is held back
// are hashed in pairs of equal length, and every piece gets its own
// verdict: good pieces pass, corrupted ones fail, the odd-length one is
// hashed alone.
func TestPieceHasherPairs(t *testing.T) {
	h, stop, wg := newTestHasher(1, time.Millisecond)
	defer func() { close(stop); wg.Wait() }()
	rng := rand.New(rand.NewPCG(1, 2))
	type piece struct {
		data   []byte
		want   [sha1.Size]byte
		wantOK bool
	}
	var pieces []piece
	for i, n := range []int{64 << 10, 64 << 10, 64 << 10, 64 << 10, 1000} {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		p := piece{data: data, want: sha1.Sum(data), wantOK: i%3 != 1}
		if !p.wantOK {
			p.want[0] ^= 1
		}
		pieces = append(pieces, p)
	}
	h.sem <- struct{}{} // hold hashing until every piece is queued
	results := make([]bool, len(pieces))
	var done sync.WaitGroup
	for i, p := range pieces {
		done.Go(func() {
			ok, alive := h.check(nil, p.data, p.want)
			if !alive {
				t.Errorf("piece %d: not alive", i)
			}
			results[i] = ok
		})
	}
	for deadline := time.Now().Add(10 * time.Second); queued(h) < len(pieces); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pieces queued", queued(h), len(pieces))
		}
	}
	<-h.sem
	done.Wait()
	for i, p := range pieces {
		if results[i] != p.wantOK {
			t.Errorf("piece %d (%d bytes): ok = %v, want %v", i, len(p.data), results[i], p.wantOK)
		}
	}
	if got := h.paired.Load(); got != 4 {
		t.Errorf("%d pieces hashed in pairs, want 4 (the four of equal length)", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.workers > 1 {
		t.Errorf("%d workers with one slot", h.workers)
	}
}

// TestPieceHasherLonePiece: a piece with no partner is hashed alone once
// pairWait has passed.
func TestPieceHasherLonePiece(t *testing.T) {
	h, stop, wg := newTestHasher(2, time.Millisecond)
	defer func() { close(stop); wg.Wait() }()
	data := []byte("a lone piece")
	if ok, alive := h.check(nil, data, sha1.Sum(data)); !ok || !alive {
		t.Fatalf("check = %v, %v; want true, true", ok, alive)
	}
	if h.paired.Load() != 0 {
		t.Error("a lone piece was paired")
	}
}

// TestPieceHasherWaitsForPartner: a piece taken by the worker with
// nothing else queued waits for the next piece of its length and is
// hashed with it.
func TestPieceHasherWaitsForPartner(t *testing.T) {
	h, stop, wg := newTestHasher(2, time.Minute)
	defer func() { close(stop); wg.Wait() }()
	a, b := []byte("first piece...."), []byte("second piece...")
	firstOK := make(chan bool, 1)
	go func() {
		ok, _ := h.check(nil, a, sha1.Sum(a))
		firstOK <- ok
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		h.mu.Lock()
		taken := h.workers == 1 && len(h.queue) == 0
		h.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first piece was never taken")
		}
	}
	want := sha1.Sum(b)
	want[3] ^= 0x80
	if ok, alive := h.check(nil, b, want); ok || !alive {
		t.Errorf("second (corrupt) piece: check = %v, %v; want false, true", ok, alive)
	}
	if !<-firstOK {
		t.Error("first piece failed its check")
	}
	if got := h.paired.Load(); got != 2 {
		t.Errorf("%d pieces hashed in pairs, want 2", got)
	}
}

// TestPieceHasherGivesUp: a caller whose context ends while hashing is
// held back returns at once, and the worker ends with the session.
func TestPieceHasherGivesUp(t *testing.T) {
	h, stop, wg := newTestHasher(1, time.Millisecond)
	h.sem <- struct{}{}
	gone := make(chan struct{})
	close(gone)
	data := []byte("never hashed")
	if _, alive := h.check(gone, data, sha1.Sum(data)); alive {
		t.Error("check reported alive after its done channel closed")
	}
	close(stop)
	wg.Wait() // the worker waiting for the slot must end
}
