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
// its next tick: a refused TryAcquireOrNotify must hand out a channel that
// the next Release closes, and only that.
func TestBudgetTryAcquireOrNotify(t *testing.T) {
	b := NewBudget(100)
	if ok, freed := b.TryAcquireOrNotify(70); !ok || freed != nil {
		t.Fatalf("TryAcquireOrNotify(70) of 100 = %v, %v; want true, nil", ok, freed)
	}
	ok, freed := b.TryAcquireOrNotify(40)
	if ok || freed == nil {
		t.Fatalf("TryAcquireOrNotify(40) with 30 free = %v, %v; want false and a channel", ok, freed)
	}
	_, again := b.TryAcquireOrNotify(40)
	if again != freed {
		t.Fatal("two refusals before a release got different channels")
	}
	select {
	case <-freed:
		t.Fatal("channel closed before any release")
	default:
	}
	b.Release(10)
	select {
	case <-freed:
	default:
		t.Fatal("Release did not close the channel")
	}
	if ok, _ := b.TryAcquireOrNotify(40); !ok || b.InUse() != 100 {
		t.Fatalf("TryAcquireOrNotify(40) with 40 free failed; in use %d", b.InUse())
	}
	_, next := b.TryAcquireOrNotify(1)
	if next == nil || next == freed {
		t.Fatal("a refusal after a release must get a fresh channel")
	}
}

func TestBudgetRoom(t *testing.T) {
	b := NewBudget(100)
	if n, freed := b.Room(30, 3); n != 3 || freed != nil {
		t.Fatalf("Room(30, 3) of an empty 100 = %d, %v; want 3, nil", n, freed)
	}
	if n, _ := b.Room(300, 1); n != 1 {
		t.Fatalf("Room(300, 1) of an empty 100 = %d; want 1 (an oversized piece fits alone)", n)
	}
	b.TryAcquire(50)
	n, freed := b.Room(30, 2)
	if n != 1 || freed == nil {
		t.Fatalf("Room(30, 2) with 50 free = %d, %v; want 1 and a channel", n, freed)
	}
	b.Release(50)
	select {
	case <-freed:
	default:
		t.Fatal("Release did not close Room's channel")
	}
	ch := acquireAsync(context.Background(), b, 500) // waits for an empty budget, which it has: granted
	if err := mustReturn(t, ch, "Acquire(500) of an empty budget"); err != nil {
		t.Fatal(err)
	}
	ch = acquireAsync(context.Background(), b, 10) // waits behind nobody but does not fit
	mustBlock(t, ch, "Acquire(10) with the budget overfull")
	if n, freed := b.Room(1, 1); n != 0 || freed == nil {
		t.Fatalf("Room with a waiter queued = %d, %v; want 0 and a channel", n, freed)
	}
	b.Release(500)
	if err := mustReturn(t, ch, "Acquire(10) after release"); err != nil {
		t.Fatal(err)
	}
}
