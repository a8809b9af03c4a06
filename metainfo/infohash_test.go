package metainfo

import (
	"encoding/base32"
	"encoding/json"
	"strings"
	"testing"
)

// Expected values were computed independently (Python's base64.b32encode).
const (
	testHashHex    = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	testHashBase32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
)

func TestParseInfoHash(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // hex; empty when an error is expected
		wantErr string // substring of the error
	}{
		{name: "lower hex", in: testHashHex, want: testHashHex},
		{name: "upper hex", in: strings.ToUpper(testHashHex), want: testHashHex},
		{name: "mixed hex", in: "C12fe1C06bba254a9dc9f519b335aa7c1367a88A", want: testHashHex},
		{name: "base32 upper", in: testHashBase32, want: testHashHex},
		{name: "base32 lower", in: strings.ToLower(testHashBase32), want: testHashHex},
		{name: "base32 second", in: "AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH", want: "0123456789abcdef0123456789abcdef01234567"},
		{name: "empty", in: "", wantErr: "got 0 characters"},
		{name: "39 hex", in: testHashHex[:39], wantErr: "got 39 characters"},
		{name: "41 hex", in: testHashHex + "0", wantErr: "got 41 characters"},
		{name: "64 hex (v2 length)", in: strings.Repeat("ab", 32), wantErr: "got 64 characters"},
		{name: "non-hex digit", in: "g" + testHashHex[1:], wantErr: "invalid hex"},
		{name: "base32 digit 1", in: "1" + testHashBase32[1:], wantErr: "invalid base32 character '1' at offset 0"},
		{name: "base32 digit 8", in: testHashBase32[:31] + "8", wantErr: "offset 31"},
		{name: "base32 padding", in: testHashBase32[:31] + "=", wantErr: "invalid base32 character '='"},
		{name: "base32 newline", in: testHashBase32[:30] + "\r\n", wantErr: "invalid base32 character"},
		{name: "31 base32", in: testHashBase32[:31], wantErr: "got 31 characters"},
		{name: "long input truncated in error", in: strings.Repeat("a", 1000), wantErr: "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfoHash(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseInfoHash(%q) = %s, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tt.wantErr)
				}
				if len(err.Error()) > 300 {
					t.Fatalf("error is %d bytes long; untrusted input must be truncated", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInfoHash(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseInfoHash(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestInfoHashText(t *testing.T) {
	h, err := ParseInfoHash(testHashHex)
	if err != nil {
		t.Fatal(err)
	}
	text, err := h.MarshalText()
	if err != nil || string(text) != testHashHex {
		t.Fatalf("MarshalText = %q, %v; want %q", text, err, testHashHex)
	}

	// JSON goes through the text methods: a hex string, not 20 numbers.
	data, err := json.Marshal(struct{ H InfoHash }{h})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"H":"` + testHashHex + `"}`; string(data) != want {
		t.Fatalf("json = %s, want %s", data, want)
	}
	var back struct{ H InfoHash }
	if err := json.Unmarshal(data, &back); err != nil || back.H != h {
		t.Fatalf("json round trip = %s, %v; want %s", back.H, err, h)
	}

	var fromBase32 InfoHash
	if err := fromBase32.UnmarshalText([]byte(testHashBase32)); err != nil || fromBase32 != h {
		t.Fatalf("UnmarshalText(base32) = %s, %v; want %s", fromBase32, err, h)
	}
	bad := h
	if err := bad.UnmarshalText([]byte("xyz")); err == nil {
		t.Fatal("UnmarshalText accepted garbage")
	}
	if bad != h {
		t.Fatal("failed UnmarshalText modified the value")
	}
}

func FuzzParseInfoHash(f *testing.F) {
	f.Add(testHashHex)
	f.Add(testHashBase32)
	f.Add(strings.ToUpper(testHashHex))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseInfoHash(s)
		if err != nil {
			return
		}
		// Whatever parses must be one of the two encodings of its value.
		if !strings.EqualFold(s, h.String()) && !strings.EqualFold(s, base32.StdEncoding.EncodeToString(h[:])) {
			t.Fatalf("ParseInfoHash(%q) = %s, but the input is neither its hex nor its base32 form", s, h)
		}
		text, _ := h.MarshalText()
		if back, err := ParseInfoHash(string(text)); err != nil || back != h {
			t.Fatalf("hex round trip of %s failed: %s, %v", h, back, err)
		}
	})
}
