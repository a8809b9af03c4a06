package peerwire

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewPeerID(t *testing.T) {
	a, b := NewPeerID("-SH0100-"), NewPeerID("-SH0100-")
	if string(a[:8]) != "-SH0100-" || string(b[:8]) != "-SH0100-" {
		t.Fatalf("prefix lost: %q %q", a[:8], b[:8])
	}
	if a == b {
		t.Fatalf("two ids are equal: %s", a)
	}
	long := NewPeerID(strings.Repeat("x", 30))
	if string(long[:]) != strings.Repeat("x", 20) {
		t.Fatalf("long prefix: %q", long[:])
	}
	if s := a.String(); !strings.HasPrefix(s, "-SH0100-") || len(s) > 8+24 {
		t.Fatalf("String: %q", s)
	}
}

func TestPeerIDString(t *testing.T) {
	var id PeerID
	copy(id[:], "-lt2080-")
	copy(id[8:], []byte{0, 1, 2, 3, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'})
	if got, want := id.String(), "-lt2080-00010203"+hex.EncodeToString([]byte("abcdefgh")); got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}

func TestClientName(t *testing.T) {
	tests := []struct {
		id   string
		want string
	}{
		{"-LT2080-", "libtorrent 2.0.8"}, // what python3-libtorrent 2.0.8 sends
		{"-LT1217-", "libtorrent 1.2.1"},
		{"-lt0D60-", "libTorrent (rakshasa) 0.13.6"},
		{"-TR3000-", "Transmission 3.00"},
		{"-TR2940-", "Transmission 2.94"},
		{"-TR4050-", "Transmission 4.0.5"},
		{"-SH0001-", "Shoal 0.0.1"},
		{"-SH0100-", "Shoal 0.1.0"},
		{"-SH1012-", "Shoal 1.0.12"},
		{"-qB4250-", "qBittorrent 4.2.5"},
		{"-DE13F0-", "Deluge 1.3.15"},
		{"-UT355W-", "µTorrent 3.5.5"},
		{"-AZ5750-", "Vuze 5.7.5.0"},
		{"-BI3740-", "BiglyBT 3.7.4.0"},
		{"-aria2-", "aria2"},
		{"A2-1-36-0-", "aria2 1.36.0"},
		{"M7-4-3--", "BitTorrent 7.4.3"},
	}
	for _, tt := range tests {
		var id PeerID
		copy(id[:], tt.id)
		copy(id[len(tt.id):], "\x00\x01\x02\x03\xfe\xff!!!!!!!!!!!!!!!!!!!!!")
		if got := ClientName(id); got != tt.want {
			t.Errorf("ClientName(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	for _, unknown := range []string{
		"-ZZ1234-abcdefghijkl", // unknown code
		"-LT20!0-abcdefghijkl", // bad version character
		"-LT2080xabcdefghijkl", // no closing dash
		"A2-1-x-0-abcdefghijk", // aria2 tag with a bad number
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	} {
		var id PeerID
		copy(id[:], unknown)
		if got, want := ClientName(id), hex.EncodeToString(id[:]); got != want {
			t.Errorf("ClientName(%q) = %q, want hex %q", unknown, got, want)
		}
	}
}
