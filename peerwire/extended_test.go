package peerwire

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	tests := []ExtendedHandshake{
		{M: map[string]int{}},
		{
			M:            map[string]int{"ut_metadata": 2, "ut_pex": 1, "lt_donthave": 0},
			P:            6881,
			V:            "Shoal 0.1.0",
			Reqq:         500,
			YourIP:       netip.MustParseAddr("203.0.113.7"),
			IPv4:         netip.MustParseAddr("198.51.100.1"),
			IPv6:         netip.MustParseAddr("2001:db8::1"),
			MetadataSize: 31337,
			UploadOnly:   true,
		},
		{M: map[string]int{"x": 255}, YourIP: netip.MustParseAddr("2001:db8::2")},
	}
	for _, h := range tests {
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("Marshal %+v: %v", h, err)
		}
		got, err := ParseExtendedHandshake(b)
		if err != nil {
			t.Fatalf("Parse %q: %v", b, err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b, got, h)
		}
	}
}

func TestExtendedHandshakeWire(t *testing.T) {
	h := ExtendedHandshake{M: map[string]int{"ut_metadata": 1}, P: 6881, V: "S", Reqq: 250}
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "d1:md11:ut_metadatai1ee1:pi6881e4:reqqi250e1:v1:Se"; string(b) != want {
		t.Fatalf("Marshal = %q, want %q", b, want)
	}
	// The example from BEP 10. Its "6:µT_PEX" only adds up with µ as the
	// single Latin-1 byte 0xb5 (UTF-8 µ is 2 bytes), so that is what we send.
	got, err := ParseExtendedHandshake([]byte("d1:md11:LT_metadatai1e6:\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e"))
	if err != nil {
		t.Fatal(err)
	}
	want := ExtendedHandshake{M: map[string]int{"LT_metadata": 1, "\xb5T_PEX": 2}, P: 6881, V: "µTorrent 1.2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("BEP 10 example: got %+v, want %+v", got, want)
	}
	if id, ok := got.ID("LT_metadata"); !ok || id != 1 {
		t.Fatalf("ID(LT_metadata) = %d, %v", id, ok)
	}
}

func TestParseExtendedHandshakeLenient(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ExtendedHandshake
	}{
		{"empty dict", "de", ExtendedHandshake{}},
		{"no v", "d1:md6:ut_pexi1eee", ExtendedHandshake{M: map[string]int{"ut_pex": 1}}},
		{"disabled extension kept as 0", "d1:md11:ut_metadatai0e6:ut_pexi3eee",
			ExtendedHandshake{M: map[string]int{"ut_metadata": 0, "ut_pex": 3}}},
		{"unsorted keys", "d1:v3:abc1:md6:ut_pexi1eee",
			ExtendedHandshake{M: map[string]int{"ut_pex": 1}, V: "abc"}},
		{"bad m entries dropped", "d1:md1:ai-1e1:bi256e1:c3:xyz1:di7eee",
			ExtendedHandshake{M: map[string]int{"d": 7}}},
		{"m not a dict", "d1:mi5ee", ExtendedHandshake{}},
		{"port out of range", "d1:pi70000ee", ExtendedHandshake{}},
		{"port as string", "d1:p4:6881e", ExtendedHandshake{}},
		{"v as integer", "d1:vi5ee", ExtendedHandshake{}},
		{"negative reqq", "d4:reqqi-1ee", ExtendedHandshake{}},
		{"huge metadata_size", "d13:metadata_sizei99999999999ee", ExtendedHandshake{}},
		{"yourip wrong size", "d6:yourip3:abce", ExtendedHandshake{}},
		{"yourip v4", "d6:yourip4:\x7f\x00\x00\x01e", ExtendedHandshake{YourIP: netip.MustParseAddr("127.0.0.1")}},
		{"ipv4 with 16 bytes ignored", "d4:ipv416:0123456789abcdefe", ExtendedHandshake{}},
		{"ipv6 with 4 bytes ignored", "d4:ipv64:\x01\x02\x03\x04e", ExtendedHandshake{}},
		{"unknown keys ignored", "d12:complete_agoi-1e1:ei0e4:testld1:xi1eeee", ExtendedHandshake{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtendedHandshake([]byte(tt.in))
			if err != nil {
				t.Fatalf("%q: %v", tt.in, err)
			}
			if len(got.M) == 0 && len(tt.want.M) == 0 {
				got.M, tt.want.M = nil, nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%q:\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
	var h ExtendedHandshake
	if _, ok := h.ID("ut_pex"); ok {
		t.Error("ID on empty handshake reports support")
	}
	h.M = map[string]int{"ut_pex": 0}
	if _, ok := h.ID("ut_pex"); ok {
		t.Error("ID reports a disabled (0) extension as supported")
	}
}

func TestParseExtendedHandshakeErrors(t *testing.T) {
	manyExt := "d1:md"
	for i := range maxExtensions + 1 {
		manyExt += "4:" + string(rune('A'+i/26/26%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i%26)) + "xi1e"
	}
	manyExt += "ee"
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"garbage", "\x00\xffnot bencode"},
		{"list", "le"},
		{"integer", "i5e"},
		{"unterminated dict", "d1:pi6881e"},
		{"trailing data", "d1:pi6881eeXYZ"},
		{"string length past end", "d1:v99:abce"},
		{"huge", "d1:v" + "70000:" + strings.Repeat("a", 70000) + "e"},
		{"too many extensions", manyExt},
		{"too deep", "d1:x" + strings.Repeat("l", 100) + strings.Repeat("e", 100) + "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseExtendedHandshake([]byte(tt.in))
			if !errors.Is(err, ErrBadExtendedHandshake) {
				t.Fatalf("got %+v, %v; want ErrBadExtendedHandshake", h, err)
			}
		})
	}
}

func TestExtendedHandshakeMarshalErrors(t *testing.T) {
	for _, h := range []ExtendedHandshake{
		{M: map[string]int{"x": 256}},
		{M: map[string]int{"x": -1}},
		{P: 70000},
		{Reqq: -1},
		{IPv4: netip.MustParseAddr("2001:db8::1")},
		{IPv6: netip.MustParseAddr("1.2.3.4")},
	} {
		if b, err := h.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) = %q, want an error", h, b)
		}
	}
}
