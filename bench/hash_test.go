package main

import (
	"math"
	"testing"
)

func TestParseOpensslSpeed(t *testing.T) {
	const full = `CPUINFO: OPENSSL_ia32cap=0xfffa3203078bffff:0x405fc6f1bf07ab
Doing sha1 for 3s on 16 size blocks: 25323078 sha1's in 3.00s
version: 3.0.19
The 'numbers' are in 1000s of bytes per second processed.
type             16 bytes     64 bytes    256 bytes   1024 bytes   8192 bytes  16384 bytes
sha1            135056.42k   419615.36k  1016285.18k  1564687.36k  1881145.34k  1900396.54k
`
	const one = `The 'numbers' are in 1000s of bytes per second processed.
type          16384 bytes
sha1           1922671.40k
`
	cases := []struct {
		name, out string
		block     int
		want      float64 // 0: an error
	}{
		{"all sizes, 16384", full, 16384, 1900.39654},
		{"all sizes, 16", full, 16, 135.05642},
		{"-bytes 16384", one, 16384, 1922.6714},
		{"no such column", one, 8192, 0},
		{"no result line", "type 16384 bytes\n", 16384, 0},
		{"no header", "sha1 1922671.40k\n", 16384, 0},
		{"missing value", "type 16 bytes 16384 bytes\nsha1 12.00k\n", 16384, 0},
		{"not a number", "type 16384 bytes\nsha1 fast\n", 16384, 0},
		{"no unit", "type 16384 bytes\nsha1 1922671.40\n", 16384, 0},
		{"empty", "", 16384, 0},
	}
	for _, c := range cases {
		got, err := parseOpensslSpeed(c.out, "sha1", c.block)
		if c.want == 0 {
			if err == nil {
				t.Errorf("%s: got %v, want an error", c.name, got)
			}
			continue
		}
		if err != nil || math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestParseRunnable(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0.20 0.83 1.00 1/89 30804\n", 1, true},
		{"142.68 95.01 50.29 182/810 3563", 182, true},
		{"0.20 0.83 1.00", 0, false},
		{"0.20 0.83 1.00 x/89 1", 0, false},
		{"0.20 0.83 1.00 189 1", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := parseRunnable(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseRunnable(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
