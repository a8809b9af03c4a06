package bencode

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecoderStream(t *testing.T) {
	// One byte at a time, to exercise every read path.
	r := iotest.OneByteReader(strings.NewReader("i1e4:spamd1:al1:bee0:"))
	dec := NewDecoder(r)
	var got []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 4 || got[0] != int64(1) || got[1] != "spam" || got[3] != "" {
		t.Errorf("got %#v", got)
	}
	if dec.InputOffset() != 21 {
		t.Errorf("InputOffset = %d, want 21", dec.InputOffset())
	}
}

func TestDecoderDoesNotReadPastValue(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("d1:ai1ee\x00rest of the stream"))
	var v map[string]int
	if err := NewDecoder(br).Decode(&v); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "\x00rest of the stream" {
		t.Errorf("rest = %q", rest)
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		in     string
		opts   DecodeOptions
		offset int64
		msg    string
	}{
		{"i1ed1:b0:1:a0:e", DecodeOptions{}, 9, "out of order"}, // offset counts from the stream start
		{"l4:spam", DecodeOptions{}, 7, "unexpected end"},
		{"5:ab", DecodeOptions{}, 4, "unexpected end"},
		{"x", DecodeOptions{}, 0, "invalid character"},
		{"lllee", DecodeOptions{MaxDepth: 2}, 2, "nesting"},
		{"9:aaaaaaaaa", DecodeOptions{MaxStringLen: 8}, 0, "limit"},
		{"l1:a1:a1:ae", DecodeOptions{MaxSize: 8}, 8, "limit"},
		{"3x", DecodeOptions{}, 1, "invalid character"},
	}
	for _, tt := range tests {
		dec := tt.opts.NewDecoder(strings.NewReader(tt.in))
		var v any
		err := dec.Decode(&v)
		if strings.HasPrefix(tt.in, "i1e") {
			err = dec.Decode(&v)
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Decode(%q) = %v, want SyntaxError %q at %d", tt.in, err, tt.msg, tt.offset)
		}
	}
}

func TestDecoderLargeClaimedLength(t *testing.T) {
	// A peer that claims a 60 MiB string and sends 3 bytes must not make
	// us allocate 60 MiB.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var raw RawMessage
	err := NewDecoder(strings.NewReader("62914560:abc")).Decode(&raw)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "unexpected end") {
		t.Errorf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a 12-byte input", grew)
	}
}
