package bencode

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomValue makes a random bencode value of the shapes Unmarshal yields
// for an empty interface.
func randomValue(r *rand.Rand, depth int) any {
	kind := r.IntN(4)
	if depth > 4 {
		kind = r.IntN(2)
	}
	switch kind {
	case 0:
		switch r.IntN(3) {
		case 0:
			return r.Int64() - r.Int64()
		case 1:
			return int64(r.IntN(3) - 1)
		}
		return r.Int64N(1000)
	case 1:
		return randomString(r)
	case 2:
		l := make([]any, r.IntN(5))
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return l
	}
	m := make(map[string]any)
	for range r.IntN(5) {
		m[randomString(r)] = randomValue(r, depth+1)
	}
	return m
}

func randomString(r *rand.Rand) string {
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

// TestRoundTripProperty: for random values, Unmarshal(Marshal(v)) == v, and
// the encoding is canonical (re-encoding gives the same bytes).
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		v := randomValue(r, 0)
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		var got any
		if err := Unmarshal(b, &got); err != nil {
			t.Fatalf("Unmarshal(%q): %v", b, err)
		}
		if !reflect.DeepEqual(normalize(v), got) {
			t.Fatalf("round trip of %q:\n got %#v\nwant %#v", b, got, v)
		}
		b2, err := Marshal(got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs: %q vs %q (%v)", b, b2, err)
		}
		var raw RawMessage
		if err := Unmarshal(b, &raw); err != nil || !bytes.Equal(raw, b) {
			t.Fatalf("RawMessage of %q = %q, %v", b, raw, err)
		}
	}
}

// normalize turns nil lists into the empty lists Unmarshal returns.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}
