package swarmtest

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/peerwire"
)

// misbehaviour is one thing a connected peer sends, and whether the
// Session must close the connection for it (else it must ignore it and
// go on serving the peer).
type misbehaviour struct {
	name      string
	raw       []byte // sent as is
	wantClose bool
}

// msg encodes messages for a misbehaviour.
func msg(ms ...peerwire.Message) []byte {
	var b []byte
	for _, m := range ms {
		b = peerwire.AppendMessage(b, m)
	}
	return b
}

// prefix is a raw length prefix followed by body.
func prefix(n uint32, body ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), body...)
}

// runMisbehaviours connects a fresh hostile peer (from ip) to the swarm's
// seeder for each case, sends the case's bytes, and checks that the seeder
// hangs up or keeps serving as the case says; meanwhile an honest leecher
// downloads from the same seeder. Goroutines and memory stay bounded.
func runMisbehaviours(t *testing.T, sw *Swarm, ip byte, cases []misbehaviour) {
	t.Helper()
	runMisbehavioursAs(t, sw, ip, fastExt(), cases)
}

// runMisbehavioursAs is runMisbehaviours for peers that advertise res.
// Without the fast extension a peer cannot say HAVE_NONE, and the check
// that a peer is still served (which needs a BEP 6 REJECT) is not made.
func runMisbehavioursAs(t *testing.T, sw *Swarm, ip byte, res peerwire.Reserved, cases []misbehaviour) {
	t.Helper()
	w := StartWatch()
	sw.LeechWhile(t, leechTimeout, func(<-chan struct{}) {
		for _, tc := range cases {
			p, _, err := handshakeErr(Addr(ip), sw.SeederAddr(t), sw.Content.MetaInfo.InfoHash, res)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			p.Serve(nil)
			if res.Fast() {
				if err := p.Send(peerwire.Message{ID: peerwire.HaveNone}); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
			}
			if err := p.Write(tc.raw); err != nil && !IsClosed(err) {
				t.Errorf("%s: %v", tc.name, err)
			}
			if tc.wantClose {
				if !p.WaitClosed(closeWait) {
					t.Errorf("%s: connection not closed", tc.name)
				}
			} else if !res.Fast() {
				if p.WaitClosed(time.Second) {
					t.Errorf("%s: should be ignored, but the seeder hung up", tc.name)
				}
			} else if !answered(p) {
				t.Errorf("%s: should be ignored, but the seeder stopped serving the peer (%v)", tc.name, p.ServeErr())
			}
			p.Close()
		}
	})
	if !WaitPeer(sw.SeederTorrent, Addr(ip), false, closeWait) {
		t.Error("seeder still lists a hostile peer after it hung up")
	}
	w.Check(t, goroutineBound, heapBound)
}

// TestOutOfRangeMessages: blocks and requests outside the torrent close
// the connection (BEP 3 defines them only for pieces that exist); the
// advisory messages of BEP 6 (ALLOWED_FAST, SUGGEST) and CANCEL naming
// such a piece are ignored, and so is a block inside a piece that is not
// one of the blocks we request (it is never stored).
func TestOutOfRangeMessages(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{Size: 1<<20 + 1000, PieceLength: 32 << 10})
	n := uint32(sw.Content.NumPieces())
	plen := uint32(sw.Content.PieceLength())
	lastLen := uint32(sw.Content.PieceSize(int(n - 1)))
	block := make([]byte, peerwire.BlockSize)
	runMisbehaviours(t, sw, 20, []misbehaviour{
		{"piece index = count", msg(peerwire.Message{ID: peerwire.Piece, Index: n, Payload: block}), true},
		{"piece index 2^32-1", msg(peerwire.Message{ID: peerwire.Piece, Index: 1<<32 - 1, Payload: block}), true},
		{"piece begin at piece end", msg(peerwire.Message{ID: peerwire.Piece, Index: 0, Begin: plen, Payload: block}), true},
		{"piece crossing piece end", msg(peerwire.Message{ID: peerwire.Piece, Index: 1, Begin: plen - 8, Payload: block}), true},
		{"piece past short last piece", msg(peerwire.Message{ID: peerwire.Piece, Index: n - 1, Begin: 0, Payload: make([]byte, lastLen+1)}), true},
		{"piece of 16 KiB + 1", msg(peerwire.Message{ID: peerwire.Piece, Index: 0, Payload: make([]byte, peerwire.BlockSize+1)}), true},
		{"piece without data", prefix(9, 7, 0, 0, 0, 0, 0, 0, 0, 0), true},
		{"request index = count", msg(peerwire.Message{ID: peerwire.Request, Index: n, Length: 1}), true},
		{"request length 0", msg(peerwire.Message{ID: peerwire.Request, Index: 0, Length: 0}), true},
		{"request length 16 KiB + 1", msg(peerwire.Message{ID: peerwire.Request, Index: 0, Length: peerwire.BlockSize + 1}), true},
		{"request length 2^32-1", msg(peerwire.Message{ID: peerwire.Request, Index: 0, Length: 1<<32 - 1}), true},
		{"request crossing piece end", msg(peerwire.Message{ID: peerwire.Request, Index: 0, Begin: plen - 1, Length: 2}), true},
		{"request begin 2^32-1", msg(peerwire.Message{ID: peerwire.Request, Index: 0, Begin: 1<<32 - 1, Length: 1}), true},
		{"request past short last piece", msg(peerwire.Message{ID: peerwire.Request, Index: n - 1, Begin: lastLen, Length: 1}), true},
		{"piece of 1 byte (not one of our blocks)", msg(peerwire.Message{ID: peerwire.Piece, Index: 0, Payload: []byte{1}}), false},
		{"piece at an unaligned offset", msg(peerwire.Message{ID: peerwire.Piece, Index: 0, Begin: 100, Payload: block[:1000]}), false},
		{"cancel index = count", msg(peerwire.Message{ID: peerwire.Cancel, Index: n, Length: 1}), false},
		{"allowed fast index = count", msg(peerwire.Message{ID: peerwire.AllowedFast, Index: n}), false},
		{"suggest index 2^32-1", msg(peerwire.Message{ID: peerwire.Suggest, Index: 1<<32 - 1}), false},
		{"valid request (control)", msg(peerwire.Message{ID: peerwire.Request, Index: n - 1, Begin: 0, Length: lastLen}), false},
	})
}

// TestHugeLengthPrefix: a length prefix of 2^31 (or any length beyond the
// largest message) closes the connection before the Session reads or
// allocates the body; so do lengths that do not fit their message and
// message ids nobody defined.
func TestHugeLengthPrefix(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	runMisbehaviours(t, sw, 21, []misbehaviour{
		{"2^31 alone", prefix(1 << 31), true},
		{"2^31 piece", prefix(1<<31, byte(peerwire.Piece), 0, 0, 0, 0), true},
		{"2^31 extended", prefix(1<<31, byte(peerwire.Extended), 0), true},
		{"2^32-1 bitfield", prefix(1<<32-1, byte(peerwire.Bitfield)), true},
		{"2 MiB extended", prefix(2<<20, byte(peerwire.Extended), 0), true},
		{"have of length 6", prefix(6, byte(peerwire.Have), 0, 0, 0, 0, 0), true},
		{"choke of length 2", prefix(2, byte(peerwire.Choke), 0), true},
		{"request of length 12", prefix(12, byte(peerwire.Request), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), true},
		{"unknown id 99", prefix(1, 99), true},
		{"keep-alive (control)", prefix(0), false},
	})
}

// bitfieldOf returns a bitfield of n pieces with the first have set.
func bitfieldOf(n, have int) []byte {
	bf := bitfield.New(n)
	for i := range have {
		bf.Set(i)
	}
	return append([]byte(nil), bf.Bytes()...)
}

// TestBadBitfield: BEP 3 says to drop a peer whose bitfield has the wrong
// length or spare bits set; a valid one is taken.
func TestBadBitfield(t *testing.T) {
	// 33 pieces: 5 bytes of bitfield, 7 spare bits.
	sw := NewSwarm(t, SwarmOptions{Size: 33*(32<<10) - 100, PieceLength: 32 << 10})
	n := sw.Content.NumPieces()
	if n%8 == 0 {
		t.Fatalf("%d pieces leave no spare bits", n)
	}
	spare := bitfieldOf(n, 4)
	spare[len(spare)-1] |= 1 // the last spare bit
	allSpare := bitfieldOf(n, 4)
	allSpare[len(allSpare)-1] = 0xff
	long := append(bitfieldOf(n, 4), 0)
	runMisbehaviours(t, sw, 22, []misbehaviour{
		{"last spare bit set", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: spare}), true},
		{"all spare bits set", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: allSpare}), true},
		{"one byte short", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: bitfieldOf(n, 4)[:n/8]}), true},
		{"one byte long", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: long}), true},
		{"empty", msg(peerwire.Message{ID: peerwire.Bitfield}), true},
		{"1 MiB", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: make([]byte, 1<<20)}), true},
		{"valid (control)", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: bitfieldOf(n, 4)}), false},
	})
}

// TestHaveBeyondCount: HAVE for a piece that does not exist closes the
// connection; HAVE for the last piece is taken.
func TestHaveBeyondCount(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	n := uint32(sw.Content.NumPieces())
	runMisbehaviours(t, sw, 23, []misbehaviour{
		{"have index = count", msg(peerwire.Message{ID: peerwire.Have, Index: n}), true},
		{"have index 2^31", msg(peerwire.Message{ID: peerwire.Have, Index: 1 << 31}), true},
		{"have index 2^32-1", msg(peerwire.Message{ID: peerwire.Have, Index: 1<<32 - 1}), true},
		{"have last piece (control)", msg(peerwire.Message{ID: peerwire.Have, Index: n - 1}), false},
	})
}

// TestBitfieldFlood: BEP 3 and 6 allow one BITFIELD, HAVE_ALL or HAVE_NONE,
// as the first message. We take a later one (aria2 sends HAVE_NONE, then
// a BITFIELD once it has pieces), but each costs work in proportion to the
// piece count for a few bytes on the wire, so a peer that keeps sending
// them is disconnected.
func TestBitfieldFlood(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	n := sw.Content.NumPieces()
	pair := msg(peerwire.Message{ID: peerwire.Bitfield, Payload: bitfieldOf(n, n/2)}, peerwire.Message{ID: peerwire.HaveNone})
	runMisbehaviours(t, sw, 24, []misbehaviour{
		{"10000 bitfields and have nones", bytes.Repeat(pair, 10000), true},
		{"have none, then have all, over and over", bytes.Repeat(msg(peerwire.Message{ID: peerwire.HaveAll}, peerwire.Message{ID: peerwire.HaveNone}), 10000), true},
		{"a bitfield after have none, as aria2 (control)", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: bitfieldOf(n, 3)}), false},
	})
}

// TestFastMessagesWithoutBEP6: a peer that did not set the fast extension
// bit must not send its messages; BEP 6 says to close the connection.
func TestFastMessagesWithoutBEP6(t *testing.T) {
	sw := NewSwarm(t, SwarmOptions{})
	var plain peerwire.Reserved
	plain.SetExtended(true)
	runMisbehavioursAs(t, sw, 25, plain, []misbehaviour{
		{"have all", msg(peerwire.Message{ID: peerwire.HaveAll}), true},
		{"have none", msg(peerwire.Message{ID: peerwire.HaveNone}), true},
		{"suggest", msg(peerwire.Message{ID: peerwire.Suggest, Index: 0}), true},
		{"reject", msg(peerwire.Message{ID: peerwire.Reject, Index: 0, Length: 1}), true},
		{"allowed fast", msg(peerwire.Message{ID: peerwire.AllowedFast, Index: 0}), true},
		{"a bitfield (control)", msg(peerwire.Message{ID: peerwire.Bitfield, Payload: bitfieldOf(sw.Content.NumPieces(), 1)}), false},
	})
}
