package tracker

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"shoal/metainfo"
)

// FuzzParseHTTPAnnounce feeds arbitrary bytes to the HTTP response parsers
// (announce and scrape): they must not panic, what they accept must
// respect the peer limit, and an accepted announce written again as a
// canonical compact answer (BEP 23, BEP 7) parses to the same response.
func FuzzParseHTTPAnnounce(f *testing.F) {
	for _, s := range []string{
		"d8:completei3e10:incompletei4e8:intervali1800e5:peers6:\x7f\x00\x00\x02\x1a\xe1e",
		"d8:intervali60e5:peersld2:ip9:127.0.0.37:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80eeee",
		"d11:external ip4:\x0a\x00\x00\x018:intervali30e12:min intervali10e5:peers0:6:peers618:0123456789abcdef\x00\x0110:tracker id3:xyz15:warning message4:slowe",
		"d14:failure reason10:not liked!e",
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei5e10:downloadedi7e10:incompletei3eeee",
		"d8:intervali1e5:peers7:1234567e",
		"d8:intervali60e5:peersld2:ip14:fe80::1%eth0:04:porti80eeee",
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
				if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() || p.Addr().Zone() != "" {
					t.Fatalf("bad peer %v", p)
				}
			}
			if r.Interval < 0 || r.Interval > maxInterval || r.Seeders < -1 || r.Leechers < -1 {
				t.Fatalf("out of range: %+v", r)
			}
			canon := encodeHTTPAnnounce(r)
			again, err := parseHTTPAnnounce(canon, maxPeers)
			if err != nil {
				t.Fatalf("canonical %q does not parse: %v", canon, err)
			}
			if !sameAnnounce(again, r) {
				t.Fatalf("round trip via %q:\n got %+v\nwant %+v", canon, again, r)
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
// parsers (header, announce over IPv4 and IPv6, scrape). An accepted
// announce keeps to the peer limit, holds only dialable peers of the
// family asked for, and written again parses to the same response.
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
				r, err := parseUDPAnnounce(body, v6, maxPeers)
				if err != nil {
					continue
				}
				if len(r.Peers) > maxPeers || r.Interval > maxInterval {
					t.Fatalf("out of bounds: %+v", r)
				}
				// Written again in the same family, it parses the same.
				again := binary.BigEndian.AppendUint32(nil, uint32(r.Interval/time.Second))
				again = binary.BigEndian.AppendUint32(again, uint32(r.Leechers))
				again = binary.BigEndian.AppendUint32(again, uint32(r.Seeders))
				for _, p := range r.Peers {
					if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() || !v6 && !p.Addr().Is4() {
						t.Fatalf("bad peer %v (IPv6 body %v)", p, v6)
					}
					ip := p.Addr().AsSlice()
					if v6 {
						a := p.Addr().As16()
						ip = a[:]
					}
					again = binary.BigEndian.AppendUint16(append(again, ip...), p.Port())
				}
				back, err := parseUDPAnnounce(again, v6, maxPeers)
				if err != nil || !reflect.DeepEqual(back, r) {
					t.Fatalf("round trip via %x: %+v, %v; want %+v", again, back, err, r)
				}
			}
		}
	})
}

// encodeHTTPAnnounce writes r as a tracker would: keys sorted, peers
// compact, IPv6 ones in "peers6".
func encodeHTTPAnnounce(r *AnnounceResponse) []byte {
	str := func(b []byte, s string) []byte { return append(strconv.AppendInt(b, int64(len(s)), 10), ":"+s...) }
	num := func(b []byte, key string, n int64) []byte {
		return append(strconv.AppendInt(append(str(b, key), 'i'), n, 10), 'e')
	}
	var v4, v6 []byte
	for _, p := range r.Peers {
		if p.Addr().Is4() {
			v4 = binary.BigEndian.AppendUint16(append(v4, p.Addr().AsSlice()...), p.Port())
		} else {
			v6 = binary.BigEndian.AppendUint16(append(v6, p.Addr().AsSlice()...), p.Port())
		}
	}
	b := []byte("d")
	if r.Seeders >= 0 {
		b = num(b, "complete", int64(r.Seeders))
	}
	if r.ExternalIP.IsValid() {
		b = str(str(b, "external ip"), string(r.ExternalIP.AsSlice()))
	}
	if r.Leechers >= 0 {
		b = num(b, "incomplete", int64(r.Leechers))
	}
	b = num(b, "interval", int64(r.Interval/time.Second))
	b = num(b, "min interval", int64(r.MinInterval/time.Second))
	b = str(str(b, "peers"), string(v4))
	if len(v6) > 0 {
		b = str(str(b, "peers6"), string(v6))
	}
	if r.TrackerID != "" {
		b = str(str(b, "tracker id"), r.TrackerID)
	}
	if r.Warning != "" {
		b = str(str(b, "warning message"), r.Warning)
	}
	return append(b, 'e')
}

// sameAnnounce compares two responses, their peers as sets: encoding
// groups them by family.
func sameAnnounce(a, b *AnnounceResponse) bool {
	sorted := func(ps []netip.AddrPort) []netip.AddrPort {
		return slices.SortedFunc(slices.Values(ps), netip.AddrPort.Compare)
	}
	x, y := *a, *b
	x.Peers, y.Peers = sorted(a.Peers), sorted(b.Peers)
	return reflect.DeepEqual(x, y)
}
