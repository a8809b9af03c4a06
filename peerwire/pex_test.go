package peerwire

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestPEXRoundTrip(t *testing.T) {
	m := PEXMessage{
		Added: []PEXPeer{
			{Addr: netip.MustParseAddrPort("192.0.2.1:6881"), Flags: PEXSeed | PEXReachable},
			{Addr: netip.MustParseAddrPort("192.0.2.2:51413")},
			{Addr: netip.MustParseAddrPort("[2001:db8::1]:6881"), Flags: PEXUTP},
		},
		Dropped: []netip.AddrPort{
			netip.MustParseAddrPort("198.51.100.9:1"),
			netip.MustParseAddrPort("[2001:db8::2]:2"),
		},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "d5:added12:\xc0\x00\x02\x01\x1a\xe1\xc0\x00\x02\x02\xc8\xd5" + "7:added.f2:\x12\x00" +
		"6:added618:\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01\x1a\xe1" + "8:added6.f1:\x04" +
		"7:dropped6:\xc6\x33\x64\x09\x00\x01" + "8:dropped618:\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x02\x00\x02e"
	if string(b) != want {
		t.Fatalf("Marshal = %q\nwant      %q", b, want)
	}
	got, err := ParsePEX(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
	// An empty message still has every key (BEP 11 wants at least one).
	b, _ = PEXMessage{}.Marshal()
	if string(b) != "d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e" {
		t.Fatalf("empty message = %q", b)
	}
	if _, err := (PEXMessage{Dropped: []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:0")}}).Marshal(); err == nil {
		t.Fatal("port 0 encoded")
	}
}

func TestParsePEX(t *testing.T) {
	v4 := func(last byte, port uint16) string {
		return string([]byte{10, 0, 0, last, byte(port >> 8), byte(port)})
	}
	tests := []struct {
		name    string
		payload string
		added   int
		dropped int
		flags   []PEXFlags
		err     bool
	}{
		{name: "only added, no flags", payload: "d5:added12:" + v4(1, 1) + v4(2, 2) + "e", added: 2, flags: []PEXFlags{0, 0}},
		{name: "short flags", payload: "d5:added12:" + v4(1, 1) + v4(2, 2) + "7:added.f1:\x02e", added: 2, flags: []PEXFlags{PEXSeed, 0}},
		{name: "port 0 skipped", payload: "d5:added12:" + v4(1, 0) + v4(2, 2) + "7:dropped6:" + v4(3, 0) + "e", added: 1},
		{name: "IPv4-mapped in added6", payload: "d6:added618:" + strings.Repeat("\x00", 10) + "\xff\xff\x0a\x00\x00\x01\x00\x01e", added: 1},
		{name: "unknown keys, unsorted", payload: "d7:dropped6:" + v4(3, 3) + "1:xi1e5:added6:" + v4(1, 1) + "e", added: 1, dropped: 1},
		{name: "empty dict", payload: "de"},
		{name: "bad length", payload: "d5:added5:abcdee", err: true},
		{name: "bad length v6", payload: "d8:dropped66:" + v4(1, 1) + "e", err: true},
		{name: "added not a string", payload: "d5:addedi1ee", err: true},
		{name: "not a dict", payload: "le", err: true},
		{name: "empty", payload: "", err: true},
		{name: "trailing", payload: "dexx", err: true},
	}
	for _, tc := range tests {
		m, err := ParsePEX([]byte(tc.payload))
		if tc.err {
			if !errors.Is(err, ErrBadPEX) {
				t.Errorf("%s: got %+v, %v; want ErrBadPEX", tc.name, m, err)
			}
			continue
		}
		if err != nil || len(m.Added) != tc.added || len(m.Dropped) != tc.dropped {
			t.Errorf("%s: got %+v, %v; want %d added, %d dropped", tc.name, m, err, tc.added, tc.dropped)
			continue
		}
		for i, f := range tc.flags {
			if m.Added[i].Flags != f {
				t.Errorf("%s: peer %d flags %#x, want %#x", tc.name, i, m.Added[i].Flags, f)
			}
		}
		for _, p := range m.Added {
			if !p.Addr.Addr().Is4() {
				t.Errorf("%s: %v not plain IPv4", tc.name, p.Addr)
			}
		}
	}
}

func TestParsePEXBounded(t *testing.T) {
	var list []byte
	for i := range 1000 {
		list = append(list, 10, byte(i>>8), byte(i), 1, 0, 1)
	}
	payload := "d5:added" + strconv.Itoa(len(list)) + ":" + string(list) + "7:dropped" + strconv.Itoa(len(list)) + ":" + string(list) + "e"
	m, err := ParsePEX([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Added) != MaxPEXPeers || len(m.Dropped) != MaxPEXPeers {
		t.Fatalf("kept %d added, %d dropped; want %d each", len(m.Added), len(m.Dropped), MaxPEXPeers)
	}
}

func FuzzParsePEX(f *testing.F) {
	f.Add([]byte("d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f1:\x02e"))
	f.Add([]byte("d6:added618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d7:dropped6:\x0a\x00\x00\x01\x1a\xe1e"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := ParsePEX(payload)
		if err != nil {
			if !errors.Is(err, ErrBadPEX) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if len(m.Added) > MaxPEXPeers || len(m.Dropped) > MaxPEXPeers {
			t.Fatalf("unbounded: %d added, %d dropped", len(m.Added), len(m.Dropped))
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", m, err)
		}
		again, err := ParsePEX(b)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", b, err)
		}
		// Encoding groups addresses by family, so compare sorted lists.
		if !slices.Equal(pexStrings(again), pexStrings(m)) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}

// pexStrings lists a message's peers as sorted strings: each added peer
// with its flags, then each dropped one. Marshal writes an IPv4-mapped
// address as IPv4, so addresses are compared unmapped.
func pexStrings(m PEXMessage) []string {
	unmap := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
	var added, dropped []string
	for _, p := range m.Added {
		added = append(added, fmt.Sprintf("+%v/%02x", unmap(p.Addr), p.Flags))
	}
	for _, a := range m.Dropped {
		dropped = append(dropped, fmt.Sprintf("-%v", unmap(a)))
	}
	slices.Sort(added)
	slices.Sort(dropped)
	return append(added, dropped...)
}
