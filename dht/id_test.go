package dht

import (
	"encoding/hex"
	"net/netip"
	"testing"
)

// TestBEP42Vectors checks id generation and verification against the test
// vectors of BEP 42.
func TestBEP42Vectors(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		rand byte
		id   string
	}{
		{"124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"},
		{"21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"},
		{"65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"},
		{"84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"},
		{"43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"},
	} {
		ip := netip.MustParseAddr(tc.ip)
		var want ID
		hex.Decode(want[:], []byte(tc.id))
		if !VerifyID(want, ip) {
			t.Errorf("%s: vector id %s does not verify", tc.ip, tc.id)
		}
		got := secureIDFrom(ip, tc.rand, want)
		if got != want {
			t.Errorf("%s rand %d: generated %v, want %v", tc.ip, tc.rand, got, want)
		}
		// A generated id verifies; flipping a bit of its prefix breaks it.
		gen := SecureID(ip)
		if !VerifyID(gen, ip) {
			t.Errorf("%s: SecureID %v does not verify", tc.ip, gen)
		}
		gen[1] ^= 0x04
		if VerifyID(gen, ip) {
			t.Errorf("%s: corrupted id %v verifies", tc.ip, gen)
		}
		other := netip.MustParseAddr("8.8.8.8")
		if VerifyID(want, other) {
			t.Errorf("%s's id verifies for %v", tc.ip, other)
		}
	}
}

func TestBEP42Exempt(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		exempt bool
	}{
		{"127.0.0.5", true}, {"10.1.2.3", true}, {"192.168.7.1", true}, {"172.16.0.1", true},
		{"172.31.255.255", true}, {"169.254.3.4", true}, {"172.32.0.1", false}, {"8.8.8.8", false},
		{"::1", true}, {"2001:db8::1", false},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := exemptFromBEP42(ip); got != tc.exempt {
			t.Errorf("%s: exempt %v, want %v", tc.ip, got, tc.exempt)
		}
		if tc.exempt && !VerifyID(randomID(), ip) {
			t.Errorf("%s: exempt address fails verification", tc.ip)
		}
	}
	v6 := netip.MustParseAddr("2a01:4f8::17")
	if id := SecureID(v6); !VerifyID(id, v6) {
		t.Errorf("IPv6 secure id %v does not verify", id)
	}
}

func TestPrefixHelpers(t *testing.T) {
	self := randomID()
	if commonPrefixLen(self, self) != 160 {
		t.Fatal("an id shares 160 bits with itself")
	}
	for bits := 0; bits < 160; bits += 7 {
		id := randomIDWithPrefix(self, bits)
		if got := commonPrefixLen(self, id); got != bits {
			t.Fatalf("randomIDWithPrefix(%d) shares %d bits", bits, got)
		}
	}
	if s := (ID{0xab, 0x01}).String(); s != "ab01000000000000000000000000000000000000" {
		t.Fatalf("String() = %s", s)
	}
}
