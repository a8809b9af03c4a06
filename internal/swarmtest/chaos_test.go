package swarmtest

import (
	"math/rand/v2"
	"testing"

	"shoal/peerwire"
)

// randomMessage is a well-framed message of a random known type with
// field values drawn from edges (0, 1, the piece count, 16 KiB, 2^31,
// 2^32-1) and, most often, small valid numbers, and random payloads.
func randomMessage(r *rand.Rand, numPieces int) peerwire.Message {
	ids := []peerwire.MessageID{
		peerwire.Choke, peerwire.Unchoke, peerwire.Interested, peerwire.NotInterested,
		peerwire.Have, peerwire.Bitfield, peerwire.Request, peerwire.Piece, peerwire.Cancel,
		peerwire.Port, peerwire.Suggest, peerwire.HaveAll, peerwire.HaveNone, peerwire.Reject,
		peerwire.AllowedFast, peerwire.Extended,
	}
	edge := func() uint32 {
		switch r.IntN(14) {
		case 0:
			return 0
		case 1:
			return 1
		case 2:
			return uint32(numPieces)
		case 3:
			return uint32(numPieces - 1)
		case 4:
			return peerwire.BlockSize
		case 5:
			return 1 << 31
		case 6:
			return 1<<32 - 1
		case 7:
			return r.Uint32N(64 << 10)
		default:
			// Mostly values that are valid as an index, an offset or a
			// length, so that many messages get past the first checks.
			return r.Uint32N(uint32(numPieces))
		}
	}
	m := peerwire.Message{ID: ids[r.IntN(len(ids))], Index: edge(), Begin: edge(), Length: edge(), Port: uint16(edge())}
	switch m.ID {
	case peerwire.Bitfield:
		m.Payload = make([]byte, (numPieces+7)/8+r.IntN(3)-1)
	case peerwire.Piece:
		m.Payload = make([]byte, 1+r.IntN(peerwire.BlockSize))
	case peerwire.Extended:
		m.ExtendedID = uint8(r.IntN(4))
		m.Payload = make([]byte, r.IntN(200))
		if r.IntN(2) == 0 {
			// Often a bencoded dictionary, to get past the first check.
			m.Payload = append([]byte("d1:md6:ut_pexi1e11:ut_metadatai2ee8:msg_typei0e5:piecei"), []byte("0ee")...)
		}
	}
	for i := range m.Payload {
		m.Payload[i] = byte(r.UintN(256))
	}
	if m.ID == peerwire.Bitfield && r.IntN(2) == 0 {
		clear(m.Payload)
	}
	return m
}

// TestRandomMessages: connections that send streams of random (but well
// framed) messages, to the seeder and to the leecher while it downloads,
// never crash a Session (a panic would end the test binary) and leave
// goroutines and memory bounded; the honest download completes.
func TestRandomMessages(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 2 << 20})
	w := StartWatch()
	n := sw.Content.NumPieces()
	closed := 0
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		for c := range 40 {
			r := rand.New(rand.NewPCG(uint64(c), 99))
			to := sw.SeederAddr(t)
			if c%2 == 1 {
				to = sw.LeecherAddr(t)
			}
			res := fastExt()
			if c%4 >= 2 {
				res = peerwire.Reserved{}
			}
			p, _, err := handshakeErr(Addr(80+byte(c%8)), to, sw.Content.MetaInfo.InfoHash, res)
			if err != nil {
				continue // an address banned by the leecher for bad data: refused, as it should be
			}
			p.Serve(nil)
			for range 500 {
				if p.Send(randomMessage(r, n)) != nil {
					break
				}
			}
			if p.WaitClosed(0) || p.ServeErr() != nil {
				closed++
			}
			p.Close()
		}
	})
	t.Logf("%d of 40 random talkers were hung up on while sending; banned by the leecher: %d", closed, len(sw.Leecher.Banned()))
	w.Check(t, goroutineBound, heapBound)
}

// TestLargestExtensionMessages: extended messages of the largest size we
// accept (1 MiB) are read and dropped one at a time: a flood of them
// leaves memory bounded and the connection open; one byte more closes it.
func TestLargestExtensionMessages(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	w := StartWatch()
	big := make([]byte, peerwire.DefaultMaxExtendedLen)
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		p := joined(t, Addr(88), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, nil)
		if err := floodExt(p, 96, 200, big); err != nil {
			t.Error(err)
			return
		}
		if !answered(p) {
			t.Errorf("seeder stopped serving the peer after 96 MiB of extended messages: %v", p.ServeErr())
		}
		if err := p.Send(peerwire.Message{ID: peerwire.Extended, ExtendedID: 200, Payload: append(big, 0)}); err != nil && !IsClosed(err) {
			t.Error(err)
		}
		if !p.WaitClosed(closeWait) {
			t.Error("extended message over 1 MiB did not close the connection")
		}
	})
	w.Check(t, goroutineBound, heapBound)
}
