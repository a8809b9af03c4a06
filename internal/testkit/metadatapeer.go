package testkit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"shoal/metainfo"
	"shoal/peerwire"
)

// MetadataPeerOptions says how a MetadataPeer misbehaves.
type MetadataPeerOptions struct {
	// Reject answers every request with a reject instead of data.
	Reject bool
	// ManyConns accepts connections until the test ends, serving each;
	// without it the peer accepts only one.
	ManyConns bool
}

// MetadataPeer is a peer on 127.0.0.1 that offers a torrent's metadata
// (BEP 9, over BEP 10) with whatever size and content it is given: a peer
// can send anything for the info hash it was asked for.
type MetadataPeer struct {
	ln       net.Listener
	ih       metainfo.InfoHash
	size     int    // announced metadata_size
	info     []byte // what it sends as the metadata
	reject   bool
	requests atomic.Int64
	ended    sync.Once
	closed   chan struct{} // closed when the first connection ends
}

// metadataExtID is the extended message id the peer gives ut_metadata in
// its extended handshake.
const metadataExtID = 3

// StartMetadataPeer starts a peer that serves info as the metadata of the
// torrent ih, announcing announcedSize as its size (which may differ from
// len(info)). The listener is closed when the test ends.
func StartMetadataPeer(t testing.TB, ih metainfo.InfoHash, announcedSize int, info []byte, opts MetadataPeerOptions) *MetadataPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &MetadataPeer{ln: ln, ih: ih, size: announcedSize, info: info, reject: opts.Reject, closed: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !opts.ManyConns {
				p.serveConn(c)
				return
			}
			go p.serveConn(c)
		}
	}()
	return p
}

// Addr is the address the peer listens on.
func (p *MetadataPeer) Addr() netip.AddrPort { return p.ln.Addr().(*net.TCPAddr).AddrPort() }

// Requests is how many metadata requests the peer has received.
func (p *MetadataPeer) Requests() int64 { return p.requests.Load() }

// Closed is closed when the first connection ends: when the other side
// closes it (or the test ends).
func (p *MetadataPeer) Closed() <-chan struct{} { return p.closed }

func (p *MetadataPeer) serveConn(c net.Conn) {
	defer c.Close()
	p.serve(c)
	p.ended.Do(func() { close(p.closed) })
}

func (p *MetadataPeer) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := peerwire.ReadHandshakeStart(c); err != nil {
		return
	}
	var res peerwire.Reserved
	res.SetExtended(true)
	if peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: res, InfoHash: p.ih, PeerID: peerwire.NewPeerID("-XX0000-")}) != nil {
		return
	}
	if _, err := peerwire.ReadPeerID(c); err != nil {
		return
	}
	hs := peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: metadataExtID}, MetadataSize: p.size}
	payload, _ := hs.Marshal()
	c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Extended, Payload: payload}))
	r := peerwire.NewReader(c, peerwire.ReaderOptions{})
	theirID := uint8(0)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return // closed by the other side (or the test ended)
		}
		if m.ID != peerwire.Extended {
			continue
		}
		if m.ExtendedID == 0 {
			theirs, _ := peerwire.ParseExtendedHandshake(m.Payload)
			theirID, _ = theirs.ID(peerwire.ExtMetadata)
			continue
		}
		req, err := peerwire.ParseMetadataMessage(m.Payload)
		if err != nil || m.ExtendedID != metadataExtID || req.Type != peerwire.MetadataRequest {
			continue
		}
		p.requests.Add(1)
		begin := req.Piece * peerwire.MetadataPieceSize
		reply := peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: req.Piece}
		if !p.reject {
			reply = peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: req.Piece, TotalSize: len(p.info),
				Data: p.info[begin : begin+peerwire.MetadataPieceLen(len(p.info), req.Piece)]}
		}
		out, err := reply.Marshal()
		if err != nil {
			return
		}
		c.Write(peerwire.AppendMessage(nil, peerwire.Message{ID: peerwire.Extended, ExtendedID: theirID, Payload: out}))
	}
}
