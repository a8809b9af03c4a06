package server

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"shoal/metainfo"
)

// fillStore announces swarms×perSwarm distinct peers.
func fillStore(tb testing.TB, s Store, swarms, perSwarm int) {
	now := time.Now()
	var dst []Peer
	for h := range swarms {
		var ih metainfo.InfoHash
		binary.BigEndian.PutUint64(ih[:], uint64(h)*0x9e3779b97f4a7c15)
		for p := range perSwarm {
			var id PeerID
			binary.BigEndian.PutUint64(id[12:], uint64(h*perSwarm+p))
			req := AnnounceRequest{InfoHash: ih, PeerID: id, Left: int64(p % 2), NumWant: 0, Time: now,
				Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(p >> 16), byte(p >> 8), byte(p)}), 6881)}
			var err error
			res, err := s.Announce(context.Background(), &req, dst)
			if err != nil {
				tb.Fatal(err)
			}
			dst = res.Peers
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestMemoryPerPeer measures the in-memory store's heap per peer and holds
// it under 100 bytes, for big swarms and for many small ones.
func TestMemoryPerPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~50 MB")
	}
	for _, tc := range []struct{ swarms, per int }{{10, 20000}, {20000, 10}} {
		before := heapInUse()
		s := NewMemoryStore()
		fillStore(t, s, tc.swarms, tc.per)
		after := heapInUse()
		perPeer := float64(after-before) / float64(tc.swarms*tc.per)
		t.Logf("%d swarms × %d peers: %.1f bytes per peer", tc.swarms, tc.per, perPeer)
		if perPeer > 100 {
			t.Errorf("%d swarms × %d peers: %.1f bytes per peer, want under 100", tc.swarms, tc.per, perPeer)
		}
		runtime.KeepAlive(s)
	}
}

// BenchmarkMemoryStoreAnnounce measures re-announces in a store of 100k
// peers over 1000 swarms.
func BenchmarkMemoryStoreAnnounce(b *testing.B) {
	s := NewMemoryStore()
	fillStore(b, s, 1000, 100)
	var dst []Peer
	i := 0
	for b.Loop() {
		var ih metainfo.InfoHash
		binary.BigEndian.PutUint64(ih[:], uint64(i%1000)*0x9e3779b97f4a7c15)
		var id PeerID
		binary.BigEndian.PutUint64(id[12:], uint64(i%100000))
		req := AnnounceRequest{InfoHash: ih, PeerID: id, Left: 1, NumWant: 50, Families: FamilyV4, Time: time.Now(),
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 1)}
		res, _ := s.Announce(context.Background(), &req, dst)
		dst = res.Peers
		i++
	}
}
