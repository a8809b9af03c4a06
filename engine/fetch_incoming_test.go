package engine

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"shoal/metainfo"
)

// A peer that connects to us while we fetch a magnet link's metadata
// joins the fetch: here the only peer with the metadata knows our address
// and we know nobody, as when a tracker or the DHT gave it our address.
// Before, such connections were refused and the fetch waited forever.
func TestFetchMetadataFromIncomingPeer(t *testing.T) {
	mi := bigInfoTorrent(t)
	fetching := newTestSession(t, Config{})
	_, seed := metadataSeeder(t, mi)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		info []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		got, err := fetching.FetchMetadata(ctx, magnetOf(mi), FetchOptions{NoTrackers: true})
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{info: got.InfoBytes}
	}()
	// Only once the fetch takes incoming connections does the peer dial:
	// a refused dial is retried only after 30 s.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := fetching.fetchFor(mi.InfoHash); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fetch never registered for incoming connections")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := seed.AddPeers(addrOf(t, fetching)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if string(r.info) != string(mi.InfoBytes) {
		t.Fatal("fetched metadata differs from the torrent's")
	}
	if metaServed(seed) == 0 {
		t.Fatal("the peer served no metadata piece")
	}
	if _, ok := fetching.fetchFor(mi.InfoHash); ok {
		t.Fatal("the fetch is still registered after it returned")
	}
	// The torrent added next dials the peer at the listen port it gave
	// in its extended handshake: the peer would dial us again only after
	// its 30 s back-off (libtorrent: 60 s).
	mi2, err := metainfo.FromInfoBytes(r.info)
	if err != nil {
		t.Fatal(err)
	}
	tor, err := fetching.AddTorrent(mi2, AddOptions{SavePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for tor.Stats().Peers == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the torrent did not connect to the peer that gave it the metadata")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection queued for a fetch whose loop has not taken it yet is
// closed when the fetch ends, and later ones are refused: none is left
// open.
func TestFetchInboxClosedAfterFetch(t *testing.T) {
	in := newFetchInbox()
	ours, theirs := net.Pipe()
	defer theirs.Close()
	if !in.put(&handshakedConn{nc: ours}) {
		t.Fatal("an open inbox refused a connection")
	}
	in.close()
	theirs.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := theirs.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("queued connection still open after close: read gave %v, want EOF", err)
	}
	if in.put(&handshakedConn{}) {
		t.Fatal("a closed inbox took a connection")
	}
	if conns := in.take(); len(conns) != 0 {
		t.Fatalf("closed inbox holds %d connections", len(conns))
	}
}
