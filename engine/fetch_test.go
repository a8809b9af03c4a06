package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"shoal/internal/testkit"
	"shoal/metainfo"
	"shoal/peerwire"
)

// bigInfoTorrent is a torrent whose info dictionary spans several metadata
// pieces (5,000 piece hashes: about 100 KiB, 7 pieces of 16 KiB). Its
// piece hashes are made up: the tests only exchange its metadata.
func bigInfoTorrent(t *testing.T) *metainfo.MetaInfo {
	t.Helper()
	const n = 5000
	info := metainfo.Info{Name: "big-info.bin", PieceLength: 16 << 10, SingleFile: true,
		Pieces: make([]metainfo.PieceHash, n), Files: []metainfo.File{{Length: n * 16 << 10}}}
	for i := range info.Pieces {
		info.Pieces[i][0], info.Pieces[i][1] = byte(i), byte(i>>8)
	}
	var mi metainfo.MetaInfo
	if err := mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	if peerwire.MetadataPieces(len(mi.InfoBytes)) < 5 {
		t.Fatalf("info of %d bytes is too small for the test", len(mi.InfoBytes))
	}
	return &mi
}

// metadataSeeder starts a session with mi added (without its data: it
// serves only the metadata) and returns the session and the torrent.
func metadataSeeder(t *testing.T, mi *metainfo.MetaInfo) (*Session, *Torrent) {
	t.Helper()
	s := newTestSession(t, Config{})
	tor, err := s.AddTorrent(mi, AddOptions{SavePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tor.Stats().State != StateDownloading {
		if time.Now().After(deadline) {
			t.Fatalf("seeder state %v", tor.Stats().State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, tor
}

func metaServed(tor *Torrent) int {
	var n int
	tor.call(func() { n = tor.metaServed })
	return n
}

func magnetOf(mi *metainfo.MetaInfo) *metainfo.Magnet {
	return &metainfo.Magnet{InfoHash: mi.InfoHash, HasV1: true, Name: mi.Info.Name}
}

func TestFetchMetadataFromTwoSeeders(t *testing.T) {
	mi := bigInfoTorrent(t)
	s1, t1 := metadataSeeder(t, mi)
	s2, t2 := metadataSeeder(t, mi)
	fs := newTestSession(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var reports int
	var last FetchProgress
	m := magnetOf(mi)
	m.Trackers = []string{"http://127.0.0.1:1/announce"}
	got, err := fs.FetchMetadata(ctx, m, FetchOptions{
		Peers:      []netip.AddrPort{addrOf(t, s1), addrOf(t, s2)},
		NoTrackers: true,
		Progress:   func(p FetchProgress) { reports++; last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.InfoHash != mi.InfoHash || !bytes.Equal(got.InfoBytes, mi.InfoBytes) || got.Info.NumPieces() != 5000 {
		t.Fatalf("fetched %s (%d bytes), want %s", got.InfoHash, len(got.InfoBytes), mi.InfoHash)
	}
	if len(got.AnnounceList) != 1 || got.AnnounceList[0][0] != m.Trackers[0] || got.Announce != m.Trackers[0] {
		t.Errorf("trackers: %q %q", got.Announce, got.AnnounceList)
	}
	n1, n2 := metaServed(t1), metaServed(t2)
	if n1 == 0 || n2 == 0 || n1+n2 < peerwire.MetadataPieces(len(mi.InfoBytes)) {
		t.Errorf("seeders served %d and %d pieces: both should have been asked", n1, n2)
	}
	if reports == 0 || last.Known != 2 || last.Size != int64(len(mi.InfoBytes)) || last.Received != last.Size || last.Peers != 2 {
		t.Errorf("last progress report %+v", last)
	}
}

func TestFetchMetadataCorruptPeer(t *testing.T) {
	mi := bigInfoTorrent(t)
	honest, _ := metadataSeeder(t, mi)
	corrupt := bytes.Clone(mi.InfoBytes)
	for i := 100; i < len(corrupt); i += peerwire.MetadataPieceSize {
		corrupt[i] ^= 0xff // every piece is wrong
	}
	liar := testkit.StartMetadataPeer(t, mi.InfoHash, len(corrupt), corrupt, testkit.MetadataPeerOptions{})
	fs := newTestSession(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var liarBad bool
	got, err := fs.FetchMetadata(ctx, magnetOf(mi), FetchOptions{
		Peers:   []netip.AddrPort{liar.Addr(), addrOf(t, honest)},
		inspect: func(f *fetcher) { liarBad = f.known[liar.Addr()].bad },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.InfoBytes, mi.InfoBytes) {
		t.Fatal("fetched metadata differs")
	}
	if liar.Requests() == 0 {
		t.Fatal("the lying peer was never asked: the test proves nothing")
	}
	if !liarBad {
		t.Error("the lying peer was not marked bad")
	}
	select {
	case <-liar.Closed():
	case <-time.After(5 * time.Second):
		t.Error("the lying peer is still connected")
	}
}

// TestFetchMetadataRejects: the pieces a peer rejects are asked of another.
func TestFetchMetadataRejects(t *testing.T) {
	mi := bigInfoTorrent(t)
	honest, _ := metadataSeeder(t, mi)
	refuser := testkit.StartMetadataPeer(t, mi.InfoHash, len(mi.InfoBytes), nil, testkit.MetadataPeerOptions{Reject: true})
	fs := newTestSession(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := fs.FetchMetadata(ctx, magnetOf(mi), FetchOptions{Peers: []netip.AddrPort{refuser.Addr(), addrOf(t, honest)}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.InfoBytes, mi.InfoBytes) {
		t.Fatal("fetched metadata differs")
	}
	if refuser.Requests() == 0 {
		t.Fatal("the refusing peer was never asked: the test proves nothing")
	}
}

// TestFetchMetadataKnownTorrent: a torrent the session has needs no peer.
func TestFetchMetadataKnownTorrent(t *testing.T) {
	mi := bigInfoTorrent(t)
	s, _ := metadataSeeder(t, mi)
	got, err := s.FetchMetadata(context.Background(), magnetOf(mi), FetchOptions{})
	if err != nil || got.InfoHash != mi.InfoHash {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestFetchMetadataSizeLimit(t *testing.T) {
	mi := bigInfoTorrent(t)
	huge := testkit.StartMetadataPeer(t, mi.InfoHash, peerwire.MaxMetadataSize+1, mi.InfoBytes, testkit.MetadataPeerOptions{})
	fs := newTestSession(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var gaveUp bool
	_, err := fs.FetchMetadata(ctx, magnetOf(mi), FetchOptions{
		Peers:   []netip.AddrPort{huge.Addr()},
		inspect: func(f *fetcher) { gaveUp = f.known[huge.Addr()].giveUp },
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if huge.Requests() != 0 || !gaveUp {
		t.Fatalf("%d requests to a peer announcing %d bytes of metadata; given up: %v",
			huge.Requests(), peerwire.MaxMetadataSize+1, gaveUp)
	}
	select {
	case <-huge.Closed():
	case <-time.After(5 * time.Second):
		t.Error("the peer is still connected")
	}
}

func TestFetchMetadataThenDownload(t *testing.T) {
	fx := makeFixture(t, 32<<10, 300000, 5, 70000)
	seeder := newTestSession(t, Config{})
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, st, 10*time.Second)
	leecher := newTestSession(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := fx.mi.Magnet()
	m.Peers = []string{addrOf(t, seeder).String()} // x.pe
	mi, err := leecher.FetchMetadata(ctx, m, FetchOptions{NoTrackers: true})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	lt, err := leecher.AddTorrent(mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, lt, 20*time.Second)
	sameContent(t, fx.mi, fx.dataDir, out)
}

func TestFetchMetadataEndsWithSession(t *testing.T) {
	mi := bigInfoTorrent(t)
	s := newTestSession(t, Config{})
	errC := make(chan error, 1)
	go func() {
		_, err := s.FetchMetadata(context.Background(), magnetOf(mi), FetchOptions{})
		errC <- err
	}()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	select {
	case err := <-errC:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FetchMetadata did not end with the session")
	}
	if _, err := s.FetchMetadata(context.Background(), magnetOf(mi), FetchOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestServeMetadata asks a Shoal seeder for metadata pieces as a raw peer:
// its extended handshake offers ut_metadata with the size, a piece comes
// back as data, a piece beyond the end as a reject (BEP 9).
func TestServeMetadata(t *testing.T) {
	mi := bigInfoTorrent(t)
	s, _ := metadataSeeder(t, mi)
	var res peerwire.Reserved
	res.SetExtended(true)
	p := dialRawAs(t, s, mi.InfoHash, mi.Info.NumPieces(), "-XX0000-", res)
	c, r := p.c, p.r
	next := func() peerwire.Message {
		for {
			m, err := r.ReadMessage()
			if err != nil {
				if err == io.EOF {
					t.Fatal("connection closed")
				}
				t.Fatal(err)
			}
			if m.ID == peerwire.Extended {
				return m
			}
		}
	}
	hs, err := peerwire.ParseExtendedHandshake(next().Payload)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := hs.ID(peerwire.ExtMetadata)
	if !ok || hs.MetadataSize != len(mi.InfoBytes) {
		t.Fatalf("handshake %+v: want ut_metadata with metadata_size %d", hs, len(mi.InfoBytes))
	}
	if _, ok := hs.ID(peerwire.ExtPEX); !ok {
		t.Errorf("handshake %+v does not offer ut_pex", hs)
	}
	ours, _ := (&peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: 7}}).Marshal()
	send := func(m peerwire.Message) {
		if _, err := c.Write(peerwire.AppendMessage(nil, m)); err != nil {
			t.Fatal(err)
		}
	}
	send(peerwire.Message{ID: peerwire.Extended, Payload: ours})
	last := peerwire.MetadataPieces(len(mi.InfoBytes)) - 1
	for _, piece := range []int{1, last, last + 1} {
		req, _ := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: piece}.Marshal()
		send(peerwire.Message{ID: peerwire.Extended, ExtendedID: id, Payload: req})
		m := next()
		if m.ExtendedID != 7 {
			t.Fatalf("reply under extended id %d, want ours (7)", m.ExtendedID)
		}
		mm, err := peerwire.ParseMetadataMessage(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if piece > last {
			if mm.Type != peerwire.MetadataReject || mm.Piece != piece {
				t.Fatalf("piece %d beyond the end: %+v, want a reject", piece, mm)
			}
			continue
		}
		begin := piece * peerwire.MetadataPieceSize
		want := mi.InfoBytes[begin : begin+peerwire.MetadataPieceLen(len(mi.InfoBytes), piece)]
		if mm.Type != peerwire.MetadataData || mm.Piece != piece || mm.TotalSize != len(mi.InfoBytes) || !bytes.Equal(mm.Data, want) {
			t.Fatalf("piece %d: %v piece %d total %d, %d bytes", piece, mm.Type, mm.Piece, mm.TotalSize, len(mm.Data))
		}
	}
}

func TestMetadataFloodLimits(t *testing.T) {
	var e peerExt
	now := time.Now()
	served := 0
	for range 1000 {
		if e.allowMetadata(1000, now) {
			served++
		}
	}
	if served != metadataBurst {
		t.Fatalf("served %d in one window, want %d", served, metadataBurst)
	}
	if !e.allowMetadata(1000, now.Add(metadataWindow)) {
		t.Fatal("nothing served in the next window")
	}
	// In all, at most metadataServeFactor times the piece count.
	var small peerExt
	for i := range 10 {
		small.allowMetadata(2, now.Add(time.Duration(i)*metadataWindow))
	}
	if small.metadataServed != metadataServeFactor*2 {
		t.Fatalf("served %d of a 2-piece metadata, want %d", small.metadataServed, metadataServeFactor*2)
	}
}
