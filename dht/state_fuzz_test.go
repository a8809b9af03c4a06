package dht

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"shoal/dht/krpc"
	"shoal/dht/traversal"
)

// FuzzDecodeState feeds arbitrary bytes as the DHT state file, which a
// crash may have damaged or someone may have planted. What decodes has at
// most krpc.MaxNodes nodes a family, and encoding it again gives a file
// that decodes to the same id and nodes.
func FuzzDecodeState(f *testing.F) {
	good, err := encodeState(ID{1, 2, 3}, []traversal.Node{
		{ID: [20]byte{9}, Addr: netip.MustParseAddrPort("192.0.2.1:6881")},
		{ID: [20]byte{8}, Addr: netip.MustParseAddrPort("[2001:db8::1]:6881")},
	}, time.Unix(1_800_000_000, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("d2:id20:abcdefghij01234567895:savedi0ee"))
	f.Add([]byte("d2:id3:abce"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		if len(st.nodes) > 2*krpc.MaxNodes {
			t.Fatalf("%d nodes", len(st.nodes))
		}
		b, err := encodeState(st.id, st.nodes, time.Unix(1_800_000_000, 0))
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		again, err := decodeState(b)
		if err != nil {
			t.Fatalf("re-encoded state %q does not decode: %v", b, err)
		}
		if again.id != st.id || !slices.Equal(nodeStrings(again.nodes), nodeStrings(st.nodes)) {
			t.Fatalf("round trip changed the state:\n%v\n%v", again, st)
		}
	})
}

// nodeStrings lists nodes with unmapped addresses, sorted: encoding groups
// them by family.
func nodeStrings(nodes []traversal.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = fmt.Sprintf("%x@%v", n.ID, netip.AddrPortFrom(n.Addr.Addr().Unmap(), n.Addr.Port()))
	}
	slices.Sort(out)
	return out
}

// TestEncodeStateBounded checks that a table with more good nodes than a
// state file may hold, or with IPv4-mapped addresses, still saves a file
// that loads: before, 257 IPv4 nodes made a file decodeState refused, and a
// mapped address failed the whole save.
func TestEncodeStateBounded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		v4, v6    int
		mapped    bool
		want4, w6 int
	}{
		{name: "few", v4: 3, v6: 2, want4: 3, w6: 2},
		{name: "many v4", v4: krpc.MaxNodes + 40, want4: krpc.MaxNodes},
		{name: "many v6", v4: 1, v6: krpc.MaxNodes + 1, want4: 1, w6: krpc.MaxNodes},
		{name: "mapped v4", v4: 5, mapped: true, want4: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []traversal.Node
			for i := range tc.v4 {
				a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
				if tc.mapped {
					a = netip.AddrFrom16(a.As16())
				}
				nodes = append(nodes, traversal.Node{ID: [20]byte{byte(i), 4}, Addr: netip.AddrPortFrom(a, 6881)})
			}
			for i := range tc.v6 {
				a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
				nodes = append(nodes, traversal.Node{ID: [20]byte{byte(i), 6}, Addr: netip.AddrPortFrom(a, 6881)})
			}
			b, err := encodeState(ID{7}, nodes, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			st, err := decodeState(b)
			if err != nil {
				t.Fatalf("saved state does not load: %v", err)
			}
			n4 := 0
			for _, n := range st.nodes {
				if n.Addr.Addr().Is4() {
					n4++
				}
			}
			if st.id != (ID{7}) || n4 != tc.want4 || len(st.nodes)-n4 != tc.w6 {
				t.Fatalf("loaded id %x, %d IPv4 and %d IPv6 nodes; want %d and %d", st.id, n4, len(st.nodes)-n4, tc.want4, tc.w6)
			}
		})
	}
}
