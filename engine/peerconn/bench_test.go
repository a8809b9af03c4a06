package peerconn

import (
	"context"
	"testing"

	"shoal/peerwire"
)

// BenchmarkUploadTCP streams blocks from one Conn to another over loopback
// TCP: the writer's storage read, batching and writes, and the reader's
// decoding and event delivery, with 128 requests outstanding.
func BenchmarkUploadTCP(b *testing.B) {
	a, z := tcpPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	block := make([]byte, peerwire.BlockSize)
	seeder := New(ctx, a, Options{Events: make(chan Event, 16),
		ReadBlock: func(_ int, _ int64, buf []byte) error { copy(buf, block); return nil }})
	leecherEvents := make(chan Event, 256)
	leecher := New(ctx, z, Options{Events: leecherEvents})
	queue := func(i int) {
		if !seeder.QueueUpload(i/16, int64(i%16)*peerwire.BlockSize, peerwire.BlockSize) {
			b.Fatalf("QueueUpload %d refused", i)
		}
	}
	const outstanding = 128
	b.SetBytes(peerwire.BlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	next := 0
	for ; next < min(b.N, outstanding); next++ {
		queue(next)
	}
	for range b.N {
		if ev := <-leecherEvents; ev.Closed {
			b.Fatal(ev.Err)
		}
		if next < b.N {
			queue(next)
			next++
		}
	}
	b.StopTimer()
	seeder.Close(nil)
	leecher.Close(nil)
	<-seeder.Done()
	<-leecher.Done()
}
