package dht

import (
	"net/netip"
	"testing"

	"shoal/dht/krpc"
)

func TestListenNetwork(t *testing.T) {
	for in, want := range map[string]string{
		":6881": "udp4", "0.0.0.0:6881": "udp4", "127.0.0.1:0": "udp4",
		"[::]:6881": "udp6", "[2001:db8::1]:1": "udp6", "localhost:1": "udp", "garbage": "udp",
	} {
		if got := listenNetwork(in); got != want {
			t.Errorf("listenNetwork(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEncodeWithin checks the trimming order on an IPv6 reply: filters,
// then values beyond keptValues, then nodes6, then the remaining values.
func TestEncodeWithin(t *testing.T) {
	var bf [krpc.BloomLen]byte
	mk := func() *krpc.Msg {
		r := &krpc.Return{Token: "12345678", BFsd: &bf, BFpe: &bf}
		for i := range 8 {
			r.Nodes6 = append(r.Nodes6, krpc.NodeInfo{ID: [20]byte{byte(i)}, Addr: netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), uint16(i+1))})
		}
		for i := range 20 {
			r.Values = append(r.Values, netip.AddrPortFrom(netip.MustParseAddr("2001:db8::2"), uint16(i+1)))
		}
		return &krpc.Msg{T: "aa", Y: "r", R: r, V: DefaultVersion}
	}
	full, _ := mk().Encode()
	for _, tc := range []struct {
		limit                int
		filters              bool
		values, nodes6       int
		dropped, trimmedFlag bool
	}{
		{len(full), true, 20, 8, false, false},
		{len(full) - 1, false, 20, 8, false, true},
		{len(full) - 530 - 21*12, false, 8, 8, false, true},
		{len(full) - 530 - 21*12 - 38*8, false, 8, 0, false, true},
		{len(full) - 530 - 21*12 - 38*8 - 21*8, false, 0, 0, false, true},
		{20, false, 0, 0, true, true},
	} {
		m := mk()
		b, trimmed := encodeWithin(m, tc.limit)
		if (b == nil) != tc.dropped || trimmed != tc.trimmedFlag || len(b) > tc.limit {
			t.Errorf("limit %d: %d bytes, trimmed %v", tc.limit, len(b), trimmed)
			continue
		}
		if b == nil {
			continue
		}
		r := m.R
		if (r.BFsd != nil) != tc.filters || len(r.Values) != tc.values || len(r.Nodes6) != tc.nodes6 {
			t.Errorf("limit %d (full %d): filters %v, %d values, %d nodes6; want %v %d %d",
				tc.limit, len(full), r.BFsd != nil, len(r.Values), len(r.Nodes6), tc.filters, tc.values, tc.nodes6)
		}
	}
}
