package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string // substring of the error; "" means success
	}{
		{"262144", 262144, ""},
		{"0", 0, ""},
		{"16K", 16 << 10, ""},
		{"16k", 16 << 10, ""},
		{"16KB", 16 << 10, ""},
		{"16KiB", 16 << 10, ""},
		{"16kib", 16 << 10, ""},
		{"1M", 1 << 20, ""},
		{"4MiB", 4 << 20, ""},
		{"4MB", 4 << 20, ""}, // binary on purpose, like other torrent tools
		{"4mb", 4 << 20, ""},
		{"2G", 2 << 30, ""},
		{"1GiB", 1 << 30, ""},
		{"512B", 512, ""},
		{" 16K ", 16 << 10, ""},
		{"16 K", 16 << 10, ""},
		{"", 0, "invalid size"},
		{"K", 0, "invalid size"},
		{"-16K", 0, "invalid size"},
		{"+16K", 0, "invalid size"},
		{"1.5M", 0, "unknown unit"},
		{"16X", 0, "unknown unit"},
		{"16KK", 0, "unknown unit"},
		{"16T", 0, "unknown unit"},
		{"0x4000", 0, "unknown unit"},
		{"auto", 0, "invalid size"}, // auto is the flag's business, not parseSize's
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"8589934592G", 0, "too large"},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseSize(%q) = %d, %v; want error containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestPieceSizeValue(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"auto", 0, false},
		{"AUTO", 0, false},
		{"256K", 256 << 10, false},
		{"3000", 3000, false}, // syntax is fine; the power-of-two check comes later
		{"0", 0, true},
		{"big", 0, true},
	}
	for _, tc := range tests {
		v := pieceSizeValue{bytes: 12345}
		err := v.Set(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Set(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && v.bytes != tc.want {
			t.Errorf("Set(%q) stored %d, want %d", tc.in, v.bytes, tc.want)
		}
	}
	var v pieceSizeValue
	if v.String() != "auto" {
		t.Errorf("zero value String() = %q, want auto", v.String())
	}
	if err := v.Set("4M"); err != nil || v.String() != "4 MiB" {
		t.Errorf("after Set(4M): String() = %q, err %v", v.String(), err)
	}
}

func TestCheckPieceLength(t *testing.T) {
	tests := []struct {
		n  int64
		ok bool
	}{
		{16 << 10, true},
		{32 << 10, true},
		{4 << 20, true},
		{256 << 20, true},
		{512 << 20, false},
		{8 << 10, false},
		{3000, false},
		{(16 << 10) + 1, false},
		{48 << 10, false},
		{0, false},
		{-16384, false},
	}
	for _, tc := range tests {
		err := checkPieceLength(tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("checkPieceLength(%d) = %v, want ok=%v", tc.n, err, tc.ok)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{256 << 10, "256 KiB"},
		{1 << 20, "1 MiB"},
		{1<<20 - 1, "1.0 MiB"}, // not "1024.0 KiB"
		{3 << 30, "3 GiB"},
		{1<<63 - 1, "8 EiB"},
	}
	for _, tc := range tests {
		if got := formatSize(tc.n); got != tc.want {
			t.Errorf("formatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
