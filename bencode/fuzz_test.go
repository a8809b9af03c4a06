package bencode

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzUnmarshal checks that decoding never panics, that strict decoding
// accepts only canonical bencode (what it accepts re-encodes to the same
// bytes), and that the stream decoder agrees with Unmarshal.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		"i0e", "i-1e", "4:spam", "le", "de", "d3:cow3:moo4:spaml1:a1:bee",
		"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"d1:bi1e1:ai2ee", "i03e", "lli1eee", "3:ab",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		err := Unmarshal(data, &v)
		if err == nil {
			b, err := Marshal(v)
			if err != nil {
				t.Fatalf("Marshal of decoded %q: %v", data, err)
			}
			if !bytes.Equal(b, data) {
				t.Fatalf("strict decode accepted non-canonical %q (re-encodes to %q)", data, b)
			}
		}
		var lenient any
		lerr := DecodeOptions{Lenient: true}.Unmarshal(data, &lenient)
		if err == nil && lerr != nil {
			t.Fatalf("lenient rejected what strict accepted: %v", lerr)
		}
		// Integers beyond int64 are valid bencode that fits no empty
		// interface: a type error, not a syntax error.
		var typeErr *UnmarshalTypeError
		wellFormed := err == nil || errors.As(err, &typeErr)
		var raw RawMessage
		rerr := Unmarshal(data, &raw)
		if (rerr == nil) != wellFormed {
			t.Fatalf("RawMessage and any disagree: %v vs %v", rerr, err)
		}
		if rerr == nil && !bytes.Equal(raw, data) {
			t.Fatalf("RawMessage = %q, want %q", raw, data)
		}
		dec := NewDecoder(bytes.NewReader(data))
		var sv any
		serr := dec.Decode(&sv)
		if wellFormed && (serr == nil) != (err == nil) {
			t.Fatalf("stream decoder rejected valid %q: %v", data, serr)
		}
		if serr == nil {
			var more any
			if derr := dec.Decode(&more); wellFormed && !errors.Is(derr, io.EOF) {
				t.Fatalf("stream decoder saw more after a whole input: %v", derr)
			}
		}
	})
}
