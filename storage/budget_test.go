package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquireAsync starts Acquire on its own goroutine and returns its result.
func acquireAsync(ctx context.Context, b *Budget, n int64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Acquire(ctx, n) }()
	return ch
}

func mustBlock(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned (%v) but should wait", what, err)
	case <-time.After(20 * time.Millisecond):
	}
}

func mustReturn(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

func TestBudgetBlocksUntilRelease(t *testing.T) {
	ctx := context.Background()
	b := NewBudget(100)
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if !b.TryAcquire(40) || b.InUse() != 100 {
		t.Fatalf("TryAcquire(40) of the rest failed; in use %d", b.InUse())
	}
	if b.TryAcquire(1) {
		t.Fatal("TryAcquire beyond the budget succeeded")
	}
	ch := acquireAsync(ctx, b, 50)
	mustBlock(t, ch, "Acquire beyond the budget")
	b.Release(40) // 60 in use: 50 still does not fit
	mustBlock(t, ch, "Acquire of 50 with 40 free")
	b.Release(60)
	if err := mustReturn(t, ch, "Acquire after release"); err != nil {
		t.Fatal(err)
	}
	if b.InUse() != 50 {
		t.Fatalf("in use %d, want 50", b.InUse())
	}
}

func TestBudgetOversizedRequest(t *testing.T) {
	ctx := context.Background()
	b := NewBudget(8 << 20)
	// A 16 MiB piece with an 8 MiB budget is admitted alone.
	if err := b.Acquire(ctx, 16<<20); err != nil {
		t.Fatal(err)
	}
	ch := acquireAsync(ctx, b, 1)
	mustBlock(t, ch, "Acquire while an oversized piece holds the budget")
	b.Release(16 << 20)
	if err := mustReturn(t, ch, "Acquire after the oversized piece"); err != nil {
		t.Fatal(err)
	}
	// With 1 byte in use the big one waits, and once it waits, small
	// requests queue behind it (first come, first served).
	big := acquireAsync(ctx, b, 16<<20)
	mustBlock(t, big, "oversized Acquire with something in use")
	if b.TryAcquire(1) {
		t.Fatal("TryAcquire jumped ahead of a waiting Acquire")
	}
	small := acquireAsync(ctx, b, 1)
	mustBlock(t, small, "small Acquire behind a waiting big one")
	b.Release(1)
	if err := mustReturn(t, big, "oversized Acquire once the budget is empty"); err != nil {
		t.Fatal(err)
	}
	mustBlock(t, small, "small Acquire while the oversized one holds the budget")
	b.Release(16 << 20)
	if err := mustReturn(t, small, "small Acquire"); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetCancel(t *testing.T) {
	b := NewBudget(10)
	if err := b.Acquire(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	big := acquireAsync(ctx, b, 8)
	small := acquireAsync(context.Background(), b, 2)
	mustBlock(t, big, "Acquire beyond the budget")
	mustBlock(t, small, "Acquire queued behind it")
	cancel()
	if err := mustReturn(t, big, "cancelled Acquire"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire: %v", err)
	}
	b.Release(3) // the cancelled waiter no longer blocks the one behind it
	if err := mustReturn(t, small, "Acquire behind a cancelled waiter"); err != nil {
		t.Fatal(err)
	}
	if b.InUse() != 9 {
		t.Fatalf("in use %d, want 9 (the cancelled request took nothing)", b.InUse())
	}
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := b.Acquire(done, 5); !errors.Is(err, context.Canceled) || b.InUse() != 9 {
		t.Fatalf("Acquire with an ended context: %v, in use %d", err, b.InUse())
	}
}

func TestBudgetReleaseTooMuchPanics(t *testing.T) {
	b := NewBudget(10)
	b.TryAcquire(3)
	defer func() {
		if recover() == nil {
			t.Fatal("Release of more than in use did not panic")
		}
	}()
	b.Release(4)
}

// The engine tops up requests when piece memory comes back instead of at
// its next tick: NotifyWhenFree's channel closes at once when the bytes fit,
// else at the Release that frees them, oldest subscriber first and only
// as many as the freed bytes serve (a release must not wake every starved
// torrent of a session).
func TestBudgetNotifyWhenFree(t *testing.T) {
	b := NewBudget(100)
	select {
	case <-b.NotifyWhenFree(40):
	default:
		t.Fatal("NotifyWhenFree(40) of an empty budget did not fire at once")
	}
	b.TryAcquire(90)
	first, second, third := b.NotifyWhenFree(40), b.NotifyWhenFree(40), b.NotifyWhenFree(40)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	if closed(first) || closed(second) || closed(third) {
		t.Fatal("a notice fired with only 10 bytes free")
	}
	b.Release(40) // 50 free: one 40-byte notice is served
	if !closed(first) || closed(second) || closed(third) {
		t.Fatalf("after freeing room for one: fired %v %v %v, want only the oldest", closed(first), closed(second), closed(third))
	}
	b.Release(50) // nothing in use: everyone left is served
	if !closed(second) || !closed(third) {
		t.Fatal("emptying the budget did not serve every notice")
	}
	if b.TryAcquire(100); len(b.notify) != 0 {
		t.Fatalf("%d notices left after all were served", len(b.notify))
	}
}

// Blocking Acquire callers come before notices: a release that only
// serves a waiter wakes no notice.
func TestBudgetNotifyAfterWaiters(t *testing.T) {
	b := NewBudget(100)
	b.TryAcquire(100)
	ch := acquireAsync(context.Background(), b, 60)
	mustBlock(t, ch, "Acquire(60) of a full budget")
	notice := b.NotifyWhenFree(30)
	b.Release(60)
	if err := mustReturn(t, ch, "Acquire(60) after release"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notice:
		t.Fatal("the notice fired though the waiter took the freed bytes")
	default:
	}
	b.Release(40) // 60 in use, 40 free: the notice's 30 fit
	select {
	case <-notice:
	default:
		t.Fatal("the notice did not fire once its bytes were free")
	}
}

func TestBudgetRoom(t *testing.T) {
	b := NewBudget(100)
	if n := b.Room(30); n != 3 {
		t.Fatalf("Room(30) of an empty 100 = %d; want 3", n)
	}
	if n := b.Room(300); n != 1 {
		t.Fatalf("Room(300) of an empty 100 = %d; want 1 (an oversized piece fits alone)", n)
	}
	b.TryAcquire(50)
	if n := b.Room(30); n != 1 {
		t.Fatalf("Room(30) with 50 free = %d; want 1", n)
	}
	ch := acquireAsync(context.Background(), b, 60) // does not fit: waits
	mustBlock(t, ch, "Acquire(60) with 50 free")
	if n := b.Room(1); n != 0 {
		t.Fatalf("Room with a waiter queued = %d; want 0", n)
	}
	b.Release(50)
	if err := mustReturn(t, ch, "Acquire(60) after release"); err != nil {
		t.Fatal(err)
	}
}
