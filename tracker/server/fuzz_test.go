package server

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// FuzzParseQuery feeds arbitrary query strings to the HTTP announce and
// scrape parsers and checks that what they accept is well formed.
func FuzzParseQuery(f *testing.F) {
	f.Add("info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&peer_id=-SH0100-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=10&event=started&compact=1&numwant=20")
	f.Add("info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb")
	f.Add("info_hash=%zz&port=-1")
	f.Add("&&=&=%&a=%4")
	f.Fuzz(func(t *testing.T, q string) {
		if a, err := parseAnnounceQuery(q); err == nil {
			if a.Port == 0 || a.Left < 0 || a.NumWant < 0 || a.NumWant > MaxNumWant || a.Event > EventStopped {
				t.Fatalf("accepted %q as %+v", q, a)
			}
		} else if _, ok := err.(Reject); !ok {
			t.Fatalf("error %v is not a Reject", err)
		}
		if hs, err := parseScrapeQuery(q); err == nil && (len(hs) == 0 || len(hs) > maxScrapeHashes) {
			t.Fatalf("accepted %q with %d hashes", q, len(hs))
		}
	})
}

// FuzzUDPRequest feeds arbitrary packets to the UDP handler, with the
// first 8 bytes replaced by a valid connection id when the fuzzer asks, so
// that announce and scrape parsing is reached.
func FuzzUDPRequest(f *testing.F) {
	f.Add(connectPacket(1), false)
	f.Add(announcePacket(0, 2, testHash(1), testPeerID(1), 5, 2, -1, 6881), true)
	f.Add(append(announcePacket(0, 2, testHash(1), testPeerID(1), 0, 0, 10, 1), 2, 3, 'a', 'b', 'c'), true)
	f.Add(scrapePacket(0, 3, testHash(1), testHash(2)), true)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4}, true)
	now := time.Unix(1_800_000_000, 0)
	s, err := New(Config{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	from := netip.MustParseAddrPort("10.1.2.3:4567")
	f.Fuzz(func(t *testing.T, p []byte, validID bool) {
		h := s.newUDPHandler()
		if validID && len(p) >= 8 {
			id := h.signer.New(from, now)
			for i := range 8 {
				p[i] = byte(id >> (56 - 8*i))
			}
		}
		out := h.handle(context.Background(), p, from)
		if len(out) > 20+6*MaxNumWant && len(out) > 8+12*maxScrapeHashes {
			t.Fatalf("answer of %d bytes", len(out))
		}
		if out != nil && len(p) >= 16 && string(out[4:8]) != string(p[12:16]) {
			t.Fatalf("answer %x does not echo the transaction id of %x", out, p)
		}
	})
}
