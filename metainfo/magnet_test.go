package metainfo

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

const testBtmhHex = "1220" + "6c1b8b4b1d4e8d1c5c1f0f3e0e3a7d6f9b2c1a0e4f7d8c9b0a1f2e3d4c5b6a79"

func mustHash(t testing.TB, s string) InfoHash {
	t.Helper()
	h, err := ParseInfoHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMagnet(t *testing.T) {
	h := mustHash(t, testHashHex)
	v2 := mustHex(t, testBtmhHex)
	const xt = "magnet:?xt=urn:btih:" + testHashHex
	tests := []struct {
		name    string
		in      string
		want    *Magnet
		wantErr string
	}{
		{name: "hex only", in: xt, want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "base32", in: "magnet:?xt=urn:btih:" + testHashBase32, want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "base32 lower", in: "magnet:?xt=urn:btih:" + strings.ToLower(testHashBase32), want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "upper case everything", in: "MAGNET:?XT=URN:BTIH:" + strings.ToUpper(testHashHex) + "&DN=Big&TR=udp://t:1",
			want: &Magnet{InfoHash: h, HasV1: true, Name: "Big", Trackers: []string{"udp://t:1"}}},
		{name: "surrounding whitespace", in: "  " + xt + "\n", want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "name with plus and escapes", in: xt + "&dn=Ubuntu+22.04%20%C3%A9t%C3%A9%2B",
			want: &Magnet{InfoHash: h, HasV1: true, Name: "Ubuntu 22.04 été+"}},
		{name: "several trackers in order, duplicates removed",
			in: xt + "&tr=udp%3A%2F%2Ftracker.example.org%3A6969%2Fannounce&tr=http://b/announce&tr=udp://tracker.example.org:6969/announce&tr=&tr=http://a/",
			want: &Magnet{InfoHash: h, HasV1: true, Trackers: []string{
				"udp://tracker.example.org:6969/announce", "http://b/announce", "http://a/"}}},
		{name: "escaped tracker with query", in: xt + "&tr=http%3A%2F%2Ft.example%2Fannounce%3Fpasskey%3Da%2Bb%26x%3D1",
			want: &Magnet{InfoHash: h, HasV1: true, Trackers: []string{"http://t.example/announce?passkey=a+b&x=1"}}},
		{name: "web seeds and peers", in: xt + "&ws=http%3A%2F%2Fw%2Ff%20x&ws=http://w/f%20x&x.pe=10.0.0.1:6881&x.pe=[2001:db8::1]:51413&x.pe=peer.example-1.org:1&x.pe=10.0.0.1:6881",
			want: &Magnet{InfoHash: h, HasV1: true, WebSeeds: []string{"http://w/f x"},
				Peers: []string{"10.0.0.1:6881", "[2001:db8::1]:51413", "peer.example-1.org:1"}}},
		{name: "select only", in: xt + "&so=0,2,4,6-8&so=10-10",
			want: &Magnet{InfoHash: h, HasV1: true, SelectOnly: []IndexRange{{0, 0}, {2, 2}, {4, 4}, {6, 8}, {10, 10}}}},
		{name: "select only escaped comma", in: xt + "&so=1%2C3-4",
			want: &Magnet{InfoHash: h, HasV1: true, SelectOnly: []IndexRange{{1, 1}, {3, 4}}}},
		{name: "hybrid", in: xt + "&xt=urn:btmh:" + testBtmhHex + "&dn=h",
			want: &Magnet{InfoHash: h, HasV1: true, V2Multihash: v2, Name: "h"}},
		{name: "hybrid btmh first, upper hex", in: "magnet:?xt=urn:btmh:" + strings.ToUpper(testBtmhHex) + "&xt=urn:btih:" + testHashBase32,
			want: &Magnet{InfoHash: h, HasV1: true, V2Multihash: v2}},
		{name: "v2 only", in: "magnet:?xt=urn:btmh:" + testBtmhHex, want: &Magnet{V2Multihash: v2}},
		{name: "same btih twice in two encodings", in: xt + "&xt=urn:btih:" + testHashBase32, want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "numbered xt", in: "magnet:?xt.1=urn:btih:" + testHashHex, want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "escaped xt", in: "magnet:?xt=urn%3Abtih%3A" + testHashHex, want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "unknown params kept in order", in: xt + "&xl=1234&x.foo=a%26b&kt=k1+k2&xt=urn:ed2k:abc&flag&dn=n&dn=second",
			want: &Magnet{InfoHash: h, HasV1: true, Name: "n", Extra: []MagnetParam{
				{"xl", "1234"}, {"x.foo", "a&b"}, {"kt", "k1 k2"}, {"xt", "urn:ed2k:abc"}, {"flag", ""}, {"dn", "second"}}}},
		{name: "empty segments and fragment", in: "magnet:?&&xt=urn:btih:" + testHashHex + "&&=orphan&#frag&dn=x",
			want: &Magnet{InfoHash: h, HasV1: true}},
		{name: "empty dn ignored", in: xt + "&dn=&dn=real", want: &Magnet{InfoHash: h, HasV1: true, Name: "real"}},

		{name: "not magnet", in: "http://example.com/?xt=urn:btih:" + testHashHex, wantErr: "not a magnet URI"},
		{name: "empty", in: "", wantErr: "not a magnet URI"},
		{name: "no question mark", in: "magnet:xt=urn:btih:" + testHashHex, wantErr: "missing '?'"},
		{name: "missing xt", in: "magnet:?dn=foo&tr=udp://t:1", wantErr: "no exact topic"},
		{name: "only foreign xt", in: "magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C", wantErr: "no exact topic"},
		{name: "short hex", in: "magnet:?xt=urn:btih:" + testHashHex[:39], wantErr: "got 39 characters"},
		{name: "long hex", in: "magnet:?xt=urn:btih:" + testHashHex + "00", wantErr: "got 42 characters"},
		{name: "empty btih", in: "magnet:?xt=urn:btih:", wantErr: "got 0 characters"},
		{name: "bad base32", in: "magnet:?xt=urn:btih:" + testHashBase32[:31] + "1", wantErr: "invalid base32"},
		{name: "bad hex", in: "magnet:?xt=urn:btih:" + testHashHex[:39] + "z", wantErr: "invalid hex"},
		{name: "conflicting btih", in: xt + "&xt=urn:btih:" + strings.Repeat("0", 40), wantErr: "two different v1 info hashes"},
		{name: "conflicting btmh", in: "magnet:?xt=urn:btmh:" + testBtmhHex + "&xt=urn:btmh:1220" + strings.Repeat("0", 64), wantErr: "two different v2"},
		{name: "btmh odd hex", in: "magnet:?xt=urn:btmh:122", wantErr: "odd number"},
		{name: "btmh bad hex", in: "magnet:?xt=urn:btmh:12zz", wantErr: "invalid hex"},
		{name: "btmh short digest", in: "magnet:?xt=urn:btmh:1220abcd", wantErr: "header says 32 digest bytes, found 2"},
		{name: "btmh long digest", in: "magnet:?xt=urn:btmh:" + testBtmhHex + "00", wantErr: "found 33"},
		{name: "btmh zero length", in: "magnet:?xt=urn:btmh:1200", wantErr: "digest length is zero"},
		{name: "btmh truncated varint", in: "magnet:?xt=urn:btmh:92", wantErr: "truncated varint"},
		{name: "btmh non-minimal varint", in: "magnet:?xt=urn:btmh:9200" + "20" + strings.Repeat("ab", 32), wantErr: "not minimally encoded"},
		{name: "btmh empty", in: "magnet:?xt=urn:btmh:", wantErr: "empty multihash"},
		{name: "btmh huge", in: "magnet:?xt=urn:btmh:" + strings.Repeat("ab", 200), wantErr: "longer than the limit"},
		{name: "bad escape in value", in: xt + "&dn=%zz", wantErr: `parameter "dn": bad escape`},
		{name: "bad escape in key", in: xt + "&d%n=1", wantErr: "bad escape in name"},
		{name: "peer no port", in: xt + "&x.pe=1.2.3.4", wantErr: "missing ':port'"},
		{name: "peer port zero", in: xt + "&x.pe=1.2.3.4:0", wantErr: "outside 1..65535"},
		{name: "peer port too big", in: xt + "&x.pe=1.2.3.4:65536", wantErr: "outside 1..65535"},
		{name: "peer port not number", in: xt + "&x.pe=1.2.3.4:+80", wantErr: "not a number"},
		{name: "peer port empty", in: xt + "&x.pe=host:", wantErr: "not a number"},
		{name: "peer empty host", in: xt + "&x.pe=:6881", wantErr: "empty host"},
		{name: "peer bare ipv6", in: xt + "&x.pe=2001:db8::1:6881", wantErr: "must be in brackets"},
		{name: "peer bracketed ipv4", in: xt + "&x.pe=[1.2.3.4]:80", wantErr: "not an IPv6 address"},
		{name: "peer unclosed bracket", in: xt + "&x.pe=[::1:80", wantErr: "missing ']'"},
		{name: "peer bracket no port", in: xt + "&x.pe=[::1]", wantErr: "missing ':port'"},
		{name: "peer bad host char", in: xt + "&x.pe=a%2Fb:80", wantErr: "invalid character '/'"},
		{name: "so negative", in: xt + "&so=-1", wantErr: "missing file index"},
		{name: "so reversed", in: xt + "&so=8-6", wantErr: "range end 6 is before its start 8"},
		{name: "so absurd", in: xt + "&so=0-1048577", wantErr: "exceeds 1048576"},
		{name: "so huge digits", in: xt + "&so=99999999999999999999999", wantErr: "exceeds"},
		{name: "so empty", in: xt + "&so=", wantErr: "empty index list"},
		{name: "so trailing comma", in: xt + "&so=1,", wantErr: "missing file index"},
		{name: "so not number", in: xt + "&so=a", wantErr: "not a non-negative decimal"},
		{name: "so sign", in: xt + "&so=%2B1", wantErr: "not a non-negative decimal"},
		{name: "so double dash", in: xt + "&so=1-2-3", wantErr: "not a non-negative decimal"},
		{name: "too long", in: xt + "&dn=" + strings.Repeat("a", MaxMagnetLen), wantErr: "longer than the limit"},
		{name: "too many params", in: xt + strings.Repeat("&a=1", MaxMagnetParams), wantErr: "more than 2048 parameters"},
		{name: "too many so ranges", in: xt + strings.Repeat("&so=1,2,3,4", maxSelectRanges/4) + "&so=5", wantErr: "more than 4096 index ranges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMagnet(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseMagnet succeeded with %+v, want error containing %q", got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "magnet: ") {
					t.Fatalf("error %q lacks the magnet: prefix", err)
				}
				if len(err.Error()) > 400 {
					t.Fatalf("error is %d bytes; untrusted input must be truncated", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMagnet(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseMagnet(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			// Whatever parses must format and parse back to the same value,
			// and formatting must be stable.
			s := got.String()
			again, err := ParseMagnet(s)
			if err != nil {
				t.Fatalf("re-parsing %q: %v", s, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q\n got %#v\nwant %#v", s, again, got)
			}
			if s2 := again.String(); s2 != s {
				t.Fatalf("String not stable:\n%s\n%s", s, s2)
			}
		})
	}
}

func TestMagnetString(t *testing.T) {
	h := mustHash(t, testHashHex)
	tests := []struct {
		name string
		m    Magnet
		want string
	}{
		{name: "v1 only", m: Magnet{InfoHash: h, HasV1: true}, want: "magnet:?xt=urn:btih:" + testHashHex},
		{name: "zero value falls back to btih", m: Magnet{InfoHash: h}, want: "magnet:?xt=urn:btih:" + testHashHex},
		{name: "v2 only", m: Magnet{V2Multihash: mustHex(t, testBtmhHex)}, want: "magnet:?xt=urn:btmh:" + testBtmhHex},
		{
			name: "everything in canonical order",
			m: Magnet{
				Extra:       []MagnetParam{{"xl", "10"}, {"x.foo", "a b&c=d"}, {"", "dropped"}},
				SelectOnly:  []IndexRange{{0, 0}, {2, 2}, {6, 8}},
				Peers:       []string{"[::1]:6881", "1.2.3.4:80"},
				WebSeeds:    []string{"https://ws.example/dir/"},
				Trackers:    []string{"udp://t.example:6969/announce", "http://t2.example/a?pk=1+2&x=%"},
				Name:        "My File #1; 100%",
				V2Multihash: mustHex(t, testBtmhHex),
				HasV1:       true,
				InfoHash:    h,
			},
			want: "magnet:?xt=urn:btih:" + testHashHex + "&xt=urn:btmh:" + testBtmhHex +
				"&dn=My%20File%20%231%3B%20100%25" +
				"&tr=udp://t.example:6969/announce&tr=http://t2.example/a%3Fpk%3D1%2B2%26x%3D%25" +
				"&ws=https://ws.example/dir/" +
				"&x.pe=[::1]:6881&x.pe=1.2.3.4:80" +
				"&so=0,2,6-8" +
				"&xl=10&x.foo=a%20b%26c%3Dd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Fatalf("String()\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// randomMagnet builds a valid Magnet: the shape ParseMagnet returns.
func randomMagnet(r *rand.Rand) *Magnet {
	m := &Magnet{}
	switch r.IntN(3) {
	case 0:
		m.HasV1 = true
	case 1:
		m.V2Multihash = randomMultihash(r)
	default:
		m.HasV1 = true
		m.V2Multihash = randomMultihash(r)
	}
	if m.HasV1 {
		for i := range m.InfoHash {
			m.InfoHash[i] = byte(r.Uint32())
		}
	}
	if r.IntN(2) == 0 {
		m.Name = randomString(r, 1+r.IntN(40))
	}
	m.Trackers = randomUniqueStrings(r, func() string {
		return "udp://" + randomString(r, 1+r.IntN(10)) + ":6969/announce?" + randomString(r, r.IntN(10))
	})
	m.WebSeeds = randomUniqueStrings(r, func() string { return "http://w/" + randomString(r, r.IntN(20)) })
	m.Peers = randomUniqueStrings(r, func() string {
		port := 1 + r.IntN(65535)
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("%d.%d.%d.%d:%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), port)
		case 1:
			return fmt.Sprintf("[2001:db8::%x]:%d", r.IntN(65536), port)
		default:
			return fmt.Sprintf("host-%d.example:%d", r.IntN(1000), port)
		}
	})
	for range r.IntN(4) {
		first := r.IntN(MaxSelectIndex + 1)
		last := first + r.IntN(MaxSelectIndex+1-first)
		if r.IntN(2) == 0 {
			last = first
		}
		m.SelectOnly = append(m.SelectOnly, IndexRange{First: first, Last: last})
	}
	for range r.IntN(3) {
		keys := []string{"xl", "kt", "x.foo", "as", "x y", "k=&%"}
		m.Extra = append(m.Extra, MagnetParam{Key: keys[r.IntN(len(keys))], Value: randomString(r, r.IntN(15))})
	}
	return m
}

func randomMultihash(r *rand.Rand) []byte {
	digest := make([]byte, 1+r.IntN(maxMultihashDigest))
	for i := range digest {
		digest[i] = byte(r.Uint32())
	}
	// sha2-256 code (0x12) or a two-byte varint code, to exercise varints.
	header := []byte{0x12, byte(len(digest))}
	if r.IntN(2) == 0 {
		header = []byte{0xb2, 0x20, byte(len(digest))}
	}
	return append(header, digest...)
}

// randomString mixes bytes that need escaping (space, +, &, =, %, #, ;,
// non-ASCII, invalid UTF-8, control bytes) with plain letters.
func randomString(r *rand.Rand, n int) string {
	const special = " +&=%#;?/:@,~\x00\x7f\xff\n\t"
	b := make([]byte, n)
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = special[r.IntN(len(special))]
		case 1:
			b[i] = byte(r.Uint32())
		default:
			b[i] = byte('a' + r.IntN(26))
		}
	}
	return string(b)
}

func randomUniqueStrings(r *rand.Rand, gen func() string) []string {
	var out []string
	seen := map[string]bool{}
	for range r.IntN(4) {
		s := gen()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func TestMagnetRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		m := randomMagnet(r)
		s := m.String()
		got, err := ParseMagnet(s)
		if err != nil {
			t.Fatalf("case %d: ParseMagnet(%q): %v", i, s, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("case %d: round trip through %q\n got %#v\nwant %#v", i, s, got, m)
		}
		if s2 := got.String(); s2 != s {
			t.Fatalf("case %d: String not stable:\n%s\n%s", i, s, s2)
		}
	}
}

func TestMetaInfoMagnet(t *testing.T) {
	h := mustHash(t, testHashHex)
	tests := []struct {
		name string
		mi   MetaInfo
		want *Magnet
	}{
		{
			name: "announce-list flattened, duplicates and empties dropped",
			mi: MetaInfo{
				InfoHash:     h,
				Info:         Info{Name: "dir name"},
				Announce:     "http://ignored/announce",
				AnnounceList: [][]string{{"udp://a:1", "udp://b:2"}, {"udp://c:3", "udp://a:1", ""}},
				URLList:      []string{"http://ws1/", "http://ws1/", "http://ws2/"},
			},
			want: &Magnet{InfoHash: h, HasV1: true, Name: "dir name",
				Trackers: []string{"udp://a:1", "udp://b:2", "udp://c:3"},
				WebSeeds: []string{"http://ws1/", "http://ws2/"}},
		},
		{
			name: "announce only",
			mi:   MetaInfo{InfoHash: h, Info: Info{Name: "f"}, Announce: "http://t/announce"},
			want: &Magnet{InfoHash: h, HasV1: true, Name: "f", Trackers: []string{"http://t/announce"}},
		},
		{
			name: "no trackers",
			mi:   MetaInfo{InfoHash: h, Info: Info{Name: "f"}},
			want: &Magnet{InfoHash: h, HasV1: true, Name: "f"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.mi.Magnet()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Magnet()\n got %#v\nwant %#v", got, tt.want)
			}
			back, err := ParseMagnet(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip: %#v, %v", back, err)
			}
		})
	}
}

// magnetLibtorrentScript parses magnet URIs (one per line on stdin) with
// libtorrent and prints what it understood as one JSON object per line.
const magnetLibtorrentScript = `
import json, sys
import libtorrent as lt
for line in sys.stdin:
    p = lt.parse_magnet_uri(line.strip())
    v2 = p.info_hashes.v2
    print(json.dumps({
        "v1": str(p.info_hashes.v1) if p.info_hashes.has_v1() else "",
        "v2": str(v2) if p.info_hashes.has_v2() else "",
        "name": p.name,
        "trackers": list(p.trackers),
        "web_seeds": list(p.url_seeds),
        "peers": ["%s:%d" % (a, port) for a, port in p.peers],
        "file_priorities": [int(x) for x in p.file_priorities],
    }))
`

// TestMagnetLibtorrent checks that libtorrent (a real client) reads our
// String output the way we meant it. Missing libtorrent is a failure in CI.
func TestMagnetLibtorrent(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-libtorrent is required in CI: %s -c 'import libtorrent': %v", python, err)
		}
		t.Skipf("python3-libtorrent not available: %v", err)
	}
	h := mustHash(t, testHashHex)
	magnets := []*Magnet{
		{InfoHash: h, HasV1: true, Name: "plain"},
		{
			InfoHash: h, HasV1: true, V2Multihash: mustHex(t, testBtmhHex),
			Name:       "Ubuntu 22.04 été +&=%#; 100%",
			Trackers:   []string{"udp://tracker.example.org:6969/announce", "http://t.example/announce?passkey=a+b&x=1%2F", "https://t3/a b"},
			WebSeeds:   []string{"http://ws.example/files/", "http://w2/a&b"},
			Peers:      []string{"10.1.2.3:6881", "[2001:db8::1]:51413"},
			SelectOnly: []IndexRange{{0, 0}, {2, 3}},
			Extra:      []MagnetParam{{"xl", "12345"}},
		},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		m := randomMagnet(r)
		m.SelectOnly = nil // libtorrent sizes file_priorities by the largest index
		m.Peers = nil      // host names would need DNS; addresses are covered above
		if !m.HasV1 {
			m.V2Multihash = mustHex(t, testBtmhHex) // libtorrent only knows sha2-256
		} else {
			m.V2Multihash = nil
		}
		// Python decodes libtorrent's strings as UTF-8, and a NUL would end
		// a C string early: keep the random text printable UTF-8.
		m.Name = printableUTF8(m.Name)
		m.Trackers = printableUnique(m.Trackers)
		m.WebSeeds = printableUnique(m.WebSeeds)
		magnets = append(magnets, m)
	}

	var input strings.Builder
	for _, m := range magnets {
		input.WriteString(m.String())
		input.WriteByte('\n')
	}
	cmd := exec.Command(python, "-c", magnetLibtorrentScript)
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("libtorrent script: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(magnets) {
		t.Fatalf("libtorrent printed %d results for %d magnets:\n%s", len(lines), len(magnets), out)
	}
	for i, m := range magnets {
		var got struct {
			V1, V2, Name   string
			Trackers       []string
			WebSeeds       []string `json:"web_seeds"`
			Peers          []string
			FilePriorities []int `json:"file_priorities"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("magnet %d: %v in %q", i, err, lines[i])
		}
		wantV1 := ""
		if m.HasV1 {
			wantV1 = m.InfoHash.String()
		}
		wantV2 := ""
		if len(m.V2Multihash) > 0 {
			wantV2 = hex.EncodeToString(m.V2Multihash[2:]) // libtorrent prints the bare SHA-256
		}
		if got.V1 != wantV1 || got.V2 != wantV2 {
			t.Errorf("magnet %d %s: libtorrent hashes v1=%q v2=%q, want %q %q", i, m, got.V1, got.V2, wantV1, wantV2)
		}
		if got.Name != m.Name {
			t.Errorf("magnet %d %s: libtorrent name %q, want %q", i, m, got.Name, m.Name)
		}
		if !equalStrings(got.Trackers, m.Trackers) {
			t.Errorf("magnet %d %s: libtorrent trackers %q, want %q", i, m, got.Trackers, m.Trackers)
		}
		if !equalStrings(got.WebSeeds, m.WebSeeds) {
			t.Errorf("magnet %d %s: libtorrent web seeds %q, want %q", i, m, got.WebSeeds, m.WebSeeds)
		}
		if i == 1 {
			wantPeers := []string{"10.1.2.3:6881", "2001:db8::1:51413"}
			if !equalStrings(got.Peers, wantPeers) {
				t.Errorf("magnet %d: libtorrent peers %q, want %q", i, got.Peers, wantPeers)
			}
			// so=0,2-3: files 0, 2, 3 selected (4 = default priority), 1 not.
			if want := []int{4, 0, 4, 4}; !reflect.DeepEqual(got.FilePriorities, want) {
				t.Errorf("magnet %d: libtorrent file priorities %v, want %v", i, got.FilePriorities, want)
			}
		}
	}
}

func printableUTF8(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return 'x'
		}
		return c
	}, strings.ToValidUTF8(s, "?"))
}

func printableUnique(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		s = printableUTF8(s)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func FuzzParseMagnet(f *testing.F) {
	f.Add("magnet:?xt=urn:btih:" + testHashHex + "&dn=name&tr=udp://t:1/announce")
	f.Add("magnet:?xt=urn:btih:" + testHashBase32 + "&x.pe=[::1]:80&so=0,2-4")
	f.Add("magnet:?xt=urn:btih:" + testHashHex + "&xt=urn:btmh:" + testBtmhHex + "&ws=http%3A%2F%2Fw%2F&xl=5")
	f.Add("magnet:?xt=urn:btmh:" + testBtmhHex + "&dn=a+b%20c&x.foo=bar&kt=k")
	f.Fuzz(func(t *testing.T, uri string) {
		m, err := ParseMagnet(uri)
		if err != nil {
			return
		}
		s := m.String()
		again, err := ParseMagnet(s)
		if err != nil {
			t.Fatalf("ParseMagnet(%q) ok, but its String %q does not parse: %v", uri, s, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", uri, s, again, m)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
	})
}

// TestMagnetSeedCorpus makes sure every seed in the fuzz corpus is a valid
// magnet link, so fuzzing starts from inputs that reach deep into the parser.
func TestMagnetSeedCorpus(t *testing.T) {
	paths, err := filepath.Glob("testdata/fuzz/FuzzParseMagnet/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 8 {
		t.Fatalf("found %d seeds, want at least 8", len(paths))
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a one-value Go fuzz corpus file", path)
		}
		quoted, ok := strings.CutPrefix(lines[1], "string(")
		quoted, ok2 := strings.CutSuffix(quoted, ")")
		if !ok || !ok2 {
			t.Fatalf("%s: want a string(...) value", path)
		}
		uri, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, err := ParseMagnet(uri); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
