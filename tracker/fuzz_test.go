package tracker

import (
	"testing"

	"shoal/metainfo"
)

// FuzzParseHTTPAnnounce feeds arbitrary bytes to the HTTP response parsers
// (announce and scrape): they must not panic, and what they accept must
// respect the peer limit.
func FuzzParseHTTPAnnounce(f *testing.F) {
	for _, s := range []string{
		"d8:completei3e10:incompletei4e8:intervali1800e5:peers6:\x7f\x00\x00\x02\x1a\xe1e",
		"d8:intervali60e5:peersld2:ip9:127.0.0.37:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80eeee",
		"d11:external ip4:\x0a\x00\x00\x018:intervali30e12:min intervali10e5:peers0:6:peers618:0123456789abcdef\x00\x0110:tracker id3:xyz15:warning message4:slowe",
		"d14:failure reason10:not liked!e",
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei5e10:downloadedi7e10:incompletei3eeee",
		"d8:intervali1e5:peers7:1234567e",
	} {
		f.Add([]byte(s))
	}
	const maxPeers = 5
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := parseHTTPAnnounce(data, maxPeers); err == nil {
			if len(r.Peers) > maxPeers {
				t.Fatalf("%d peers, limit %d", len(r.Peers), maxPeers)
			}
			for _, p := range r.Peers {
				if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() {
					t.Fatalf("bad peer %v", p)
				}
			}
			if r.Interval < 0 || r.Interval > maxInterval || r.Seeders < -1 || r.Leechers < -1 {
				t.Fatalf("out of range: %+v", r)
			}
		}
		out := map[metainfo.InfoHash]ScrapeStats{}
		if parseHTTPScrape(data, out) == nil {
			for _, st := range out {
				if st.Seeders < 0 || st.Leechers < 0 || st.Completed < 0 {
					t.Fatalf("negative counts %+v", st)
				}
			}
		}
	})
}

// FuzzParseUDPResponse feeds arbitrary datagrams to the UDP response
// parsers (header, announce over IPv4 and IPv6, scrape).
func FuzzParseUDPResponse(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x07\x08\x00\x00\x00\x04\x00\x00\x00\x02\x7f\x00\x00\x09\x1a\xe1"))
	f.Add([]byte("\x00\x00\x00\x03\x00\x00\x00\x07unregistered torrent"))
	f.Add([]byte("\x00\x00\x00\x02\x00\x00\x00\x07\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"))
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x07\xff\xff\xff\xff"))
	const maxPeers = 5
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, action := range []uint32{udpActionAnnounce, udpActionScrape} {
			body, match, err := parseUDPResponse(data, action, 7)
			if !match || err != nil {
				continue
			}
			if action == udpActionScrape {
				hashes := make([]metainfo.InfoHash, len(body)/12)
				parseUDPScrape(body, hashes, map[metainfo.InfoHash]ScrapeStats{})
				continue
			}
			for _, v6 := range []bool{false, true} {
				if r, err := parseUDPAnnounce(body, v6, maxPeers); err == nil && len(r.Peers) > maxPeers {
					t.Fatalf("%d peers, limit %d", len(r.Peers), maxPeers)
				}
			}
		}
	})
}
