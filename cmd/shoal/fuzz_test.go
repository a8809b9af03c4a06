package main

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzPrintable checks that whatever a torrent holds, what shoal prints of
// it is valid UTF-8 with no control or formatting characters, and that clean
// text is left alone.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J", "a\u202eb", "\xff\xfe", "日本\n", "\u0085\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := printable(s)
		if !utf8.ValidString(out) {
			t.Fatalf("printable(%q) = %q is not UTF-8", s, out)
		}
		clean := utf8.ValidString(s)
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("printable(%q) = %q keeps %U", s, out, r)
			}
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				clean = false
			}
		}
		if clean && out != s {
			t.Fatalf("printable(%q) = %q changed clean text", s, out)
		}
		if l := oneLine(s); strings.ContainsAny(l, "\r\n") {
			t.Fatalf("oneLine(%q) = %q has a line break", s, l)
		}
	})
}

// FuzzParseSize checks that parseSize never panics, never returns a
// negative size, and accepts every plain decimal that fits in an int64.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"16K", "4MiB", "262144", "9223372036854775807", "8589934592G", "-1", "1.5M", " 2 gb "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
	})
}
