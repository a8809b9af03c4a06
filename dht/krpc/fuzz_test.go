package krpc

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary datagrams to Decode: it must not panic, what
// it accepts must respect every bound, and re-encoding an accepted message
// must decode to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
		"d1:eli203e14:Protocol Errore1:t2:aa1:y1:ee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if m == nil {
			t.Fatal("nil message")
		}
		if err != nil {
			return
		}
		if m.T == "" || len(m.T) > MaxTIDLen || len(m.V) > MaxVersionLen {
			t.Fatalf("bounds: %+v", m)
		}
		switch m.Y {
		case KindQuery:
			if m.A == nil || len(m.A.Token) > MaxTokenLen || len(m.A.Want) > MaxWant {
				t.Fatalf("query bounds: %+v", m.A)
			}
		case KindResponse:
			r := m.R
			if r == nil || len(r.Nodes) > MaxNodes || len(r.Nodes6) > MaxNodes || len(r.Values) > MaxValues || len(r.Token) > MaxTokenLen {
				t.Fatalf("response bounds: %+v", r)
			}
			if r.Samples != nil && len(*r.Samples) > MaxSamples {
				t.Fatalf("%d samples", len(*r.Samples))
			}
		case KindError:
			if m.E == nil {
				t.Fatal("error without e")
			}
		default:
			t.Fatalf("kind %q accepted", m.Y)
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		out2, _ := m2.Encode()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %q then %q", out, out2)
		}
	})
}
