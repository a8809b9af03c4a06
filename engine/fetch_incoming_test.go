package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"shoal/engine/sources"
	"shoal/metainfo"
	"shoal/peerwire"
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
	waitFetchRegistered(t, fetching, mi.InfoHash)
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
	deadline := time.Now().Add(10 * time.Second)
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

// waitFetchRegistered waits until a fetch of ih takes incoming connections.
func waitFetchRegistered(t *testing.T, s *Session, ih metainfo.InfoHash) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := s.fetchFor(ih); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the fetch never registered for incoming connections")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// laterSource reports its peers only once release is closed.
type laterSource struct {
	peers   []netip.AddrPort
	release chan struct{}
}

func (laterSource) Name() string { return "later" }

func (s laterSource) Run(ctx context.Context, _ sources.Torrent, found func([]netip.AddrPort)) error {
	select {
	case <-s.release:
		found(s.peers)
	case <-ctx.Done():
	}
	<-ctx.Done()
	return ctx.Err()
}

// Anyone can connect during a fetch: a crowd of connections that complete
// the handshake and then say nothing must not take every slot, or the
// peer the fetch dials afterwards would wait for them to time out (20 s).
func TestFetchIncomingCrowdLeavesRoomToDial(t *testing.T) {
	mi := bigInfoTorrent(t)
	fetching := newTestSession(t, Config{})
	seeder, _ := metadataSeeder(t, mi)
	src := laterSource{peers: []netip.AddrPort{addrOf(t, seeder)}, release: make(chan struct{})}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := fetching.FetchMetadata(ctx, magnetOf(mi), FetchOptions{NoTrackers: true, Sources: []sources.Source{src}})
		done <- err
	}()
	waitFetchRegistered(t, fetching, mi.InfoHash)
	const crowd = maxFetchConns + 5
	var ext peerwire.Reserved
	ext.SetExtended(true)
	for i := range crowd {
		// Each completes the handshake (dialRawAs fails the test if the
		// fetch does not answer it) and then says nothing.
		dialRawAs(t, fetching, mi.InfoHash, mi.Info.NumPieces(), fmt.Sprintf("-QQ%04d-", i), ext)
	}
	time.Sleep(200 * time.Millisecond) // the fetch takes them in
	start := time.Now()
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the fetch took %v once the seeder was known: the silent crowd held its slots", took.Round(time.Millisecond))
	}
}

// A peer that dialled us and broke the rules is not taken again from a new
// port, and the fetch keeps no entry for the ports of connections that
// ended (they would grow with every connection a peer makes).
func TestFetchForgetsIncomingPortsAndRefusesLiars(t *testing.T) {
	s := newTestSession(t, Config{})
	mi := bigInfoTorrent(t)
	f := newFetcher(context.Background(), s, mi.InfoHash)
	defer f.shutdown()
	var ext peerwire.Reserved
	ext.SetExtended(true)
	incoming := func(port uint16) (*handshakedConn, net.Conn) {
		ours, theirs := net.Pipe()
		t.Cleanup(func() { theirs.Close() })
		go io.Copy(io.Discard, theirs) // what the fetch sends
		addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.7"), port)
		return &handshakedConn{nc: ours, addr: addr, peerID: peerwire.NewPeerID("-QQ0000-"), reserved: ext, incoming: true}, theirs
	}

	hc, _ := incoming(40001)
	f.addIncoming(hc)
	if len(f.peers) != 1 {
		t.Fatalf("%d peers after one incoming connection, want 1", len(f.peers))
	}
	for _, p := range f.peers {
		f.dropPeer(p, errors.New("sent metadata that fails the check"), true)
	}
	if _, kept := f.known[hc.addr]; kept {
		t.Error("the address of an ended incoming connection is still known")
	}

	again, theirs := incoming(40002)
	f.addIncoming(again)
	if len(f.peers) != 0 {
		t.Fatal("a peer that broke the rules was taken again from a new port")
	}
	theirs.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := theirs.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the refused connection was not closed: %v", err)
	}
}
