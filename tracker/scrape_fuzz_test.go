package tracker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"shoal/metainfo"
)

// minScrapeEntry is the fewest body bytes one "files" entry can take:
// "20:" + a 20-byte key + "de".
const minScrapeEntry = 3 + 20 + 2

// FuzzParseHTTPScrape feeds arbitrary bodies to the HTTP scrape response
// parser (BEP 48). What it accepts must have counts in range, no more
// entries than the body can hold, and survive a canonical re-encoding: the
// same map comes back.
func FuzzParseHTTPScrape(f *testing.F) {
	for _, s := range []string{
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei5e10:downloadedi50e10:incompletei10eeee",
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e10:incompletei3ee20:bbbbbbbbbbbbbbbbbbbbd8:completei0e10:downloadedi0e10:incompletei0eee5:flagsd20:min_request_intervali900eee",
		"d5:filesdee",
		"d14:failure reason17:tracker is closede",
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad10:incompletei3e8:completei2e4:name3:fooeee",
		"d5:filesd3:abcd8:completei1eeee",
		"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei-1eeee",
		"d8:intervali1800ee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := map[metainfo.InfoHash]ScrapeStats{}
		err := parseHTTPScrape(body, out)
		if err != nil {
			var fe *FailureError
			if !errors.As(err, &fe) && !strings.HasPrefix(err.Error(), "malformed response") {
				t.Fatalf("error does not say the response was malformed: %v", err)
			}
			return
		}
		if len(out)*minScrapeEntry > len(body) {
			t.Fatalf("%d entries from a %d-byte body", len(out), len(body))
		}
		for _, st := range out {
			if st.Seeders < 0 || st.Leechers < 0 || st.Completed < 0 {
				t.Fatalf("negative counts %+v", st)
			}
		}
		again := map[metainfo.InfoHash]ScrapeStats{}
		canon := encodeHTTPScrape(out)
		if err := parseHTTPScrape(canon, again); err != nil {
			t.Fatalf("canonical %q does not parse: %v", canon, err)
		}
		if !maps.Equal(again, out) {
			t.Fatalf("round trip via %q: %v, want %v", canon, again, out)
		}
	})
}

// encodeHTTPScrape writes stats as a tracker would: keys sorted (BEP 3).
func encodeHTTPScrape(stats map[metainfo.InfoHash]ScrapeStats) []byte {
	keys := slices.SortedFunc(maps.Keys(stats), func(a, b metainfo.InfoHash) int {
		return strings.Compare(string(a[:]), string(b[:]))
	})
	b := []byte("d5:filesd")
	for _, ih := range keys {
		st := stats[ih]
		b = fmt.Appendf(b, "20:%sd8:completei%de10:downloadedi%de10:incompletei%dee", ih[:], st.Seeders, st.Completed, st.Leechers)
	}
	return append(b, "ee"...)
}

// FuzzParseUDPScrape feeds arbitrary datagrams as the answer to a UDP
// scrape (BEP 15) of n torrents, n taken from the first byte. An accepted
// answer gives exactly one entry per distinct torrent asked about, and
// re-encoding the entries in the order asked gives the body back.
func FuzzParseUDPScrape(f *testing.F) {
	const tid = 0x1234abcd
	head := func(action uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, action), tid)
	}
	entry := func(b []byte, seeders, completed, leechers uint32) []byte {
		b = binary.BigEndian.AppendUint32(b, seeders)
		b = binary.BigEndian.AppendUint32(b, completed)
		return binary.BigEndian.AppendUint32(b, leechers)
	}
	f.Add(append([]byte{1}, entry(head(udpActionScrape), 5, 50, 10)...))
	f.Add(append([]byte{3}, entry(entry(entry(head(udpActionScrape), 1, 2, 3), 0, 0, 0), 7, 8, 9)...))
	f.Add(append([]byte{2}, entry(head(udpActionScrape), 1, 2, 3)...))
	f.Add(append([]byte{1}, entry(head(udpActionScrape), 0x80000000, 0, 0)...))
	f.Add(append([]byte{1}, append(head(udpActionError), "unregistered torrent"...)...))
	f.Add(append([]byte{1}, entry(head(udpActionAnnounce), 1, 2, 3)...))
	f.Add(append([]byte{0}, head(udpActionScrape)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// A client scrapes at most 74 torrents per packet (BEP 15); a few
		// repeats test that duplicates keep one entry.
		n := int(data[0]) % 80
		hashes := make([]metainfo.InfoHash, n)
		for i := range hashes {
			hashes[i][0] = byte(i % 70)
		}
		body, match, err := parseUDPResponse(data[1:], udpActionScrape, tid)
		if !match {
			if len(data) >= 9 && binary.BigEndian.Uint32(data[5:]) == tid {
				t.Fatalf("answer with our transaction id not matched: %x", data[1:])
			}
			return
		}
		if err != nil {
			return
		}
		out := map[metainfo.InfoHash]ScrapeStats{}
		if err := parseUDPScrape(body, hashes, out); err != nil {
			return
		}
		distinct := map[metainfo.InfoHash]bool{}
		for _, ih := range hashes {
			distinct[ih] = true
		}
		if len(out) != len(distinct) {
			t.Fatalf("%d entries for %d torrents", len(out), len(distinct))
		}
		// With duplicates the last entry wins, so compare only a body
		// without repeats.
		if len(distinct) != len(hashes) {
			return
		}
		var again []byte
		for _, ih := range hashes {
			st := out[ih]
			if st.Seeders < 0 || st.Leechers < 0 || st.Completed < 0 {
				t.Fatalf("negative counts %+v", st)
			}
			again = entry(again, uint32(st.Seeders), uint32(st.Completed), uint32(st.Leechers))
		}
		if string(again) != string(body) {
			t.Fatalf("re-encoded %x, body was %x", again, body)
		}
	})
}
