package peerwire

import (
	"net/netip"
	"slices"
	"testing"

	"shoal/metainfo"
)

func TestAllowedFastSetBEP6Example(t *testing.T) {
	// The example results printed in BEP 6 for infohash aa…aa, 1313 pieces,
	// IP 80.4.4.200.
	var ih metainfo.InfoHash
	for i := range ih {
		ih[i] = 0xaa
	}
	ip := netip.MustParseAddr("80.4.4.200")
	tests := []struct {
		k    int
		want []uint32
	}{
		{7, []uint32{1059, 431, 808, 1217, 287, 376, 1188}},
		{9, []uint32{1059, 431, 808, 1217, 287, 376, 1188, 353, 508}},
	}
	for _, tt := range tests {
		got := AllowedFastSet(ip, ih, 1313, tt.k)
		if !slices.Equal(got, tt.want) {
			t.Errorf("k=%d: got %v, want %v", tt.k, got, tt.want)
		}
	}
	// Only the /24 counts (step 1), and an IPv4-mapped IPv6 address is the
	// IPv4 address.
	for _, other := range []string{"80.4.4.1", "80.4.4.255", "::ffff:80.4.4.200"} {
		got := AllowedFastSet(netip.MustParseAddr(other), ih, 1313, 7)
		if !slices.Equal(got, tests[0].want) {
			t.Errorf("%s: got %v, want the set of 80.4.4.200 %v", other, got, tests[0].want)
		}
	}
	if got := AllowedFastSet(netip.MustParseAddr("80.4.5.200"), ih, 1313, 7); slices.Equal(got, tests[0].want) {
		t.Errorf("80.4.5.200 (another /24) got the same set as 80.4.4.200")
	}
}

func TestAllowedFastSetEdges(t *testing.T) {
	var ih metainfo.InfoHash
	ip := netip.MustParseAddr("10.0.0.1")
	if got := AllowedFastSet(netip.MustParseAddr("2001:db8::1"), ih, 100, 10); got != nil {
		t.Errorf("IPv6: got %v, want nil (BEP 6 has no IPv6 provision)", got)
	}
	if got := AllowedFastSet(netip.Addr{}, ih, 100, 10); got != nil {
		t.Errorf("invalid address: got %v, want nil", got)
	}
	if got := AllowedFastSet(ip, ih, 0, 10); got != nil {
		t.Errorf("0 pieces: got %v", got)
	}
	if got := AllowedFastSet(ip, ih, 10, 0); got != nil {
		t.Errorf("k=0: got %v", got)
	}
	// k larger than the torrent: every piece exactly once, and no endless loop.
	got := AllowedFastSet(ip, ih, 5, 10)
	slices.Sort(got)
	if !slices.Equal(got, []uint32{0, 1, 2, 3, 4}) {
		t.Errorf("k > numPieces: got %v, want all 5 pieces", got)
	}
	// A large k (map path) is still distinct, in range, and extends the small set.
	big := AllowedFastSet(ip, ih, 1000, 200)
	small := AllowedFastSet(ip, ih, 1000, 10)
	if len(big) != 200 || !slices.Equal(big[:10], small) {
		t.Fatalf("k=200: len %d, prefix %v, want prefix %v", len(big), big[:10], small)
	}
	seen := map[uint32]bool{}
	for _, v := range big {
		if v >= 1000 || seen[v] {
			t.Fatalf("k=200: index %d out of range or repeated", v)
		}
		seen[v] = true
	}
}
