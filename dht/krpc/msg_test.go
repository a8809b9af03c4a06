package krpc

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func id(s string) [20]byte {
	var b [20]byte
	copy(b[:], s)
	return b
}

func ptr[T any](v T) *T { return &v }

// TestDecodeBEP5Examples decodes the example packets of BEP 5.
func TestDecodeBEP5Examples(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Msg
	}{
		{"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
			Msg{T: "aa", Y: "q", Q: "ping", A: &Args{ID: id("abcdefghij0123456789")}}},
		{"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
			Msg{T: "aa", Y: "r", R: &Return{ID: id("mnopqrstuvwxyz123456")}}},
		{"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
			Msg{T: "aa", Y: "q", Q: "find_node", A: &Args{ID: id("abcdefghij0123456789"), Target: ptr(id("mnopqrstuvwxyz123456"))}}},
		{"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
			Msg{T: "aa", Y: "q", Q: "get_peers", A: &Args{ID: id("abcdefghij0123456789"), InfoHash: ptr(id("mnopqrstuvwxyz123456"))}}},
		{"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
			Msg{T: "aa", Y: "r", R: &Return{ID: id("abcdefghij0123456789"), Token: "aoeusnth", Values: Values{
				netip.MustParseAddrPort("97.120.106.101:11893"), netip.MustParseAddrPort("105.100.104.116:28269")}}}},
		{"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
			Msg{T: "aa", Y: "q", Q: "announce_peer", A: &Args{ID: id("abcdefghij0123456789"), ImpliedPort: 1,
				InfoHash: ptr(id("mnopqrstuvwxyz123456")), Port: 6881, Token: "aoeusnth"}}},
		{"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
			Msg{T: "aa", Y: "e", E: &Error{Code: 201, Msg: "A Generic Error Ocurred"}}},
	} {
		m, err := Decode([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !reflect.DeepEqual(*m, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, *m, tc.want)
		}
		out, err := m.Encode()
		if err != nil || string(out) != tc.in {
			t.Errorf("re-encoded %q (%v), want %q", out, err, tc.in)
		}
	}
}

// TestRoundTripExtensions encodes every optional field and decodes it back.
func TestRoundTripExtensions(t *testing.T) {
	var bf [BloomLen]byte
	bf[3] = 0x81
	in := &Msg{T: "\x01\x02", Y: "r", V: "SH\x01\x00", IP: Addr{netip.MustParseAddrPort("1.2.3.4:5")},
		R: &Return{ID: id("x"), Token: "tok",
			Nodes:    Nodes{{ID: id("n1"), Addr: netip.MustParseAddrPort("10.0.0.1:6881")}},
			Nodes6:   Nodes6{{ID: id("n2"), Addr: netip.MustParseAddrPort("[2001:db8::1]:6881")}},
			Values:   Values{netip.MustParseAddrPort("10.0.0.2:1"), netip.MustParseAddrPort("[2001:db8::2]:2")},
			Interval: ptr(300), Num: ptr(0), Samples: &Samples{}, BFsd: &bf, BFpe: &bf}}
	b, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in.R, out.R)
	}
	if !bytes.Contains(b, []byte("7:samples0:")) {
		t.Errorf("empty samples not written: %q", b)
	}
	q := &Msg{T: "aa", Y: "q", Q: "get_peers", RO: 1, A: &Args{ID: id("a"), InfoHash: ptr(id("b")),
		Want: []string{"n4", "n6"}, Scrape: 1, NoSeed: 1, Seed: 1}}
	b, _ = q.Encode()
	if !bytes.Contains(b, []byte("2:roi1e")) {
		t.Errorf("read-only flag not written as BEP 43 shows: %q", b)
	}
	if out, err := Decode(b); err != nil || !reflect.DeepEqual(out, q) {
		t.Fatalf("query round trip: %+v %v", out, err)
	}
}

// TestDecodeRejects checks the bounds and required fields.
func TestDecodeRejects(t *testing.T) {
	nodes := func(n, size int) string {
		return "5:nodes" + itoa(n*size) + ":" + strings.Repeat("x", n*size)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not a dict", "i1e", "cannot"},
		{"no tid", "d1:rd2:id20:mnopqrstuvwxyz123456e1:y1:re", "transaction id"},
		{"long tid", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t33:" + strings.Repeat("t", 33) + "1:y1:re", "transaction id"},
		{"bad kind", "d1:t2:aa1:y1:xe", "kind"},
		{"query without args", "d1:q4:ping1:t2:aa1:y1:qe", "arguments"},
		{"short id", "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", "wrong length"},
		{"nodes not multiple", "d1:rd2:id20:mnopqrstuvwxyz123456" + nodes(1, 25) + "e1:t2:aa1:y1:re", "multiple of 26"},
		{"too many nodes", "d1:rd2:id20:mnopqrstuvwxyz123456" + nodes(MaxNodes+1, 26) + "e1:t2:aa1:y1:re", "limit"},
		{"long token", "d1:rd2:id20:mnopqrstuvwxyz1234565:token65:" + strings.Repeat("k", 65) + "e1:t2:aa1:y1:re", "token"},
		{"bloom size", "d1:rd4:BFsd3:abc2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re", "wrong length"},
		{"samples size", "d1:rd2:id20:mnopqrstuvwxyz1234567:samples3:abce1:t2:aa1:y1:re", "multiple of 20"},
		{"error without code", "d1:ele1:t2:aa1:y1:ee", "empty"},
		{"huge", "d1:t2:aa1:y1:r1:z65536:" + strings.Repeat("z", 65536) + "e", "limit"},
		{"deep", "d1:t2:aa1:y1:r1:z" + strings.Repeat("l", 20) + strings.Repeat("e", 20) + "e", "nesting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeKeepsTIDOnBadQuery(t *testing.T) {
	m, err := Decode([]byte("d1:ad2:id20:abcdefghij01234567894:porti-5ee1:q13:announce_peer1:t2:zz1:y1:qe"))
	if err == nil || m.T != "zz" || m.Y != "q" {
		t.Fatalf("got %+v, %v; want the tid kept and an error", m, err)
	}
}

func TestWantsNodes(t *testing.T) {
	for _, tc := range []struct {
		want   []string
		overV6 bool
		v4, v6 bool
	}{
		{nil, false, true, false},
		{nil, true, false, true},
		{[]string{"n6"}, false, false, true},
		{[]string{"n4", "n6", "xx"}, true, true, true},
	} {
		a := &Args{Want: tc.want}
		if v4, v6 := a.WantsNodes(tc.overV6); v4 != tc.v4 || v6 != tc.v6 {
			t.Errorf("want %v over v6 %v: got %v %v", tc.want, tc.overV6, v4, v6)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
