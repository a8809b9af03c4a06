package testkit

import (
	"bytes"
	"crypto/sha1"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// TestTreeListing: a change to a file's content or a new entry shows in
// the listing, and Record makes Check compare with the tree as it is now.
func TestTreeListing(t *testing.T) {
	o := NewOutside(t)
	before := TreeListing(t, o.Dir)
	if err := os.WriteFile(o.Victim, []byte("gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := TreeListing(t, o.Dir)
	if changed == before {
		t.Fatal("new content of the victim does not show")
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "sub", "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if TreeListing(t, o.Dir) == changed {
		t.Fatal("a new file does not show")
	}
	o.Record(t)
	o.Check(t)
}

// askMetadata connects to p as a raw peer and asks for metadata piece 0,
// returning the reply.
func askMetadata(t *testing.T, p *MetadataPeer, ih metainfo.InfoHash) peerwire.MetadataMessage {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var res peerwire.Reserved
	res.SetExtended(true)
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: ih, PeerID: peerwire.NewPeerID("-TT0000-")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := peerwire.ReadHandshakeStart(c); err != nil {
		t.Fatal(err)
	}
	if _, err := peerwire.ReadPeerID(c); err != nil {
		t.Fatal(err)
	}
	r := peerwire.NewReader(c, peerwire.ReaderOptions{})
	m, err := r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	hs, err := peerwire.ParseExtendedHandshake(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := hs.ID(peerwire.ExtMetadata)
	if !ok {
		t.Fatalf("handshake %+v offers no ut_metadata", hs)
	}
	const ourID = 9
	ours, _ := (&peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: ourID}}).Marshal()
	req, _ := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: 0}.Marshal()
	out := peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Extended, Payload: ours})
	out = peerwire.AppendMessage(out, peerwire.Message{ID: peerwire.Extended, ExtendedID: id, Payload: req})
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	m, err = r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != peerwire.Extended || m.ExtendedID != ourID {
		t.Fatalf("reply %v under extended id %d, want ours (%d)", m.ID, m.ExtendedID, ourID)
	}
	mm, err := peerwire.ParseMetadataMessage(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return mm
}

func TestMetadataPeer(t *testing.T) {
	info := []byte("d4:name1:xe")
	ih := metainfo.InfoHash(sha1.Sum(info))
	t.Run("one connection", func(t *testing.T) {
		p := StartMetadataPeer(t, ih, len(info), info, MetadataPeerOptions{})
		mm := askMetadata(t, p, ih)
		if mm.Type != peerwire.MetadataData || mm.TotalSize != len(info) || !bytes.Equal(mm.Data, info) {
			t.Fatalf("reply %+v, want the whole info as data", mm)
		}
		select {
		case <-p.Closed():
		case <-time.After(5 * time.Second):
			t.Fatal("Closed not closed after the connection ended")
		}
		if p.Requests() != 1 {
			t.Errorf("%d requests counted, want 1", p.Requests())
		}
	})
	t.Run("many connections, rejecting", func(t *testing.T) {
		p := StartMetadataPeer(t, ih, len(info), nil, MetadataPeerOptions{Reject: true, ManyConns: true})
		for range 2 {
			if mm := askMetadata(t, p, ih); mm.Type != peerwire.MetadataReject {
				t.Fatalf("reply %+v, want a reject", mm)
			}
		}
		if p.Requests() != 2 {
			t.Errorf("%d requests counted, want 2", p.Requests())
		}
	})
}
