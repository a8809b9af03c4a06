package bencode

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestUnmarshalAny(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"i0e", int64(0)},
		{"i-42e", int64(-42)},
		{"i9223372036854775807e", int64(math.MaxInt64)},
		{"i-9223372036854775808e", int64(math.MinInt64)},
		{"0:", ""},
		{"4:spam", "spam"},
		{"le", []any{}},
		{"l4:spami3ee", []any{"spam", int64(3)}},
		{"de", map[string]any{}},
		{"d3:cow3:moo4:spaml1:a1:bee", map[string]any{"cow": "moo", "spam": []any{"a", "b"}}},
		{"d0:i1ee", map[string]any{"": int64(1)}},
	}
	for _, tt := range tests {
		var got any
		if err := Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Unmarshal(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// TestSyntaxErrors checks that strict decoding rejects what BEP 3 forbids
// and that the error names the right offset.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int64
		msg    string
	}{
		{"", 0, "unexpected end"},
		{"i", 1, "unexpected end"},
		{"ie", 1, "without digits"},
		{"i-e", 2, "without digits"},
		{"i03e", 1, "leading zero"},
		{"i-0e", 0, "negative zero"},
		{"i-03e", 2, "leading zero"},
		{"i+3e", 1, "without digits"},
		{"i1.5e", 2, "invalid character"},
		{"i12", 3, "unexpected end"},
		{"01:a", 0, "leading zero"},
		{"5:abc", 0, "runs past the end"},
		{"3abc", 1, "invalid character"},
		{"-3:abc", 0, "invalid character"},
		{"l", 1, "unexpected end"},
		{"li1e", 4, "unexpected end"},
		{"d", 1, "unexpected end"},
		{"di1ei2ee", 1, "key must be a string"},
		{"d1:b0:1:a0:e", 6, "out of order"},
		{"d1:a0:1:a0:e", 6, "duplicate"},
		{"d1:ae", 4, "invalid character"},
		{"i1ei2e", 3, "trailing data"},
		{"4:spamx", 6, "trailing data"},
		{"x", 0, "invalid character"},
		{"e", 0, "invalid character"},
		{"ld1:b0:1:a0:ee", 7, "out of order"},
	}
	for _, tt := range tests {
		var v any
		err := Unmarshal([]byte(tt.in), &v)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Unmarshal(%q) error = %v, want a SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Unmarshal(%q) = %v, want offset %d and %q", tt.in, err, tt.offset, tt.msg)
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Errorf("error %q does not name the offset", err)
		}
	}
}

func TestSkippedValuesAreCheckedToo(t *testing.T) {
	// Keys a struct does not know are skipped, but must still be valid.
	var s struct {
		A int `bencode:"a"`
	}
	for _, in := range []string{"d1:ai1e1:bi03ee", "d1:ai1e1:bd1:y0:1:x0:ee"} {
		if err := Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("Unmarshal(%q) accepted invalid skipped value", in)
		}
	}
}

func TestLenient(t *testing.T) {
	in := []byte("d1:bi2e1:ai1e1:bi3ee")
	var v map[string]int
	if err := Unmarshal(in, &v); err == nil {
		t.Fatal("strict mode accepted unsorted keys")
	}
	if err := (DecodeOptions{Lenient: true}).Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 1, "b": 3}; !reflect.DeepEqual(v, want) {
		t.Errorf("got %v, want %v (last repeated key wins)", v, want)
	}
	// Lenient is only about key order: the rest stays strict.
	for _, bad := range []string{"i03e", "i-0e", "d1:ai1ee1:x"} {
		var x any
		if err := (DecodeOptions{Lenient: true}).Unmarshal([]byte(bad), &x); err == nil {
			t.Errorf("lenient mode accepted %q", bad)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("l", 65) + strings.Repeat("e", 65)
	var v any
	if err := Unmarshal([]byte(deep), &v); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Errorf("65 levels: err = %v, want nesting error", err)
	}
	ok := strings.Repeat("l", 64) + strings.Repeat("e", 64)
	if err := Unmarshal([]byte(ok), &v); err != nil {
		t.Errorf("64 levels: %v", err)
	}
	opts := DecodeOptions{MaxStringLen: 4, MaxSize: 16, MaxDepth: 2}
	if err := opts.Unmarshal([]byte("5:hello"), &v); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("long string: err = %v", err)
	}
	if err := opts.Unmarshal([]byte("4:hell"), &v); err != nil {
		t.Errorf("string at the limit: %v", err)
	}
	if err := opts.Unmarshal([]byte("l1:a1:a1:a1:a1:ae"), &v); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("large input: err = %v", err)
	}
	if err := opts.Unmarshal([]byte("lllee"), &v); err == nil {
		t.Error("depth 3 accepted with MaxDepth 2")
	}
	// A huge claimed length fails without allocating it.
	if err := Unmarshal([]byte("99999999999999999999:x"), &v); err == nil {
		t.Error("absurd string length accepted")
	}
}

type inner struct {
	X int64  `bencode:"x"`
	Y string `bencode:"y,omitempty"`
}

type sample struct {
	Name    string            `bencode:"name"`
	Count   int               `bencode:"count"`
	Small   int8              `bencode:"small,omitempty"`
	U       uint16            `bencode:"u,omitempty"`
	Flag    bool              `bencode:"flag,omitempty"`
	Data    []byte            `bencode:"data,omitempty"`
	Hash    [4]byte           `bencode:"hash,omitempty"`
	List    []string          `bencode:"list,omitempty"`
	Nested  *inner            `bencode:"nested,omitempty"`
	Inners  []inner           `bencode:"inners,omitempty"`
	Map     map[string]int    `bencode:"map,omitempty"`
	Raw     RawMessage        `bencode:"raw,omitempty"`
	Any     any               `bencode:"any,omitempty"`
	Skipped string            `bencode:"-"`
	Default string            // key "Default"
	Named   map[string][]byte `bencode:"named key,omitempty"`
}

func TestStructRoundTrip(t *testing.T) {
	in := sample{
		Name: "x", Count: -7, Small: -128, U: 65535, Flag: true, Data: []byte{0, 1, 2},
		Hash: [4]byte{9, 8, 7, 6}, List: []string{"a", ""}, Nested: &inner{X: 1},
		Inners: []inner{{X: 2, Y: "y"}}, Map: map[string]int{"b": 2, "a": 1},
		Raw: RawMessage("d1:ki1ee"), Any: []any{int64(1), "two"}, Skipped: "gone",
		Default: "d", Named: map[string][]byte{"k": []byte("v")},
	}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// Keys sort as raw bytes, so "Default" comes before "any".
	want := "d7:Default1:d" + "3:anyli1e3:twoe5:count" + "i-7e" + "4:data3:\x00\x01\x02" +
		"4:flagi1e" + "4:hash4:\x09\x08\x07\x06" + "6:innersld1:xi2e1:y1:yee" +
		"4:listl1:a0:e" + "3:mapd1:ai1e1:bi2ee" + "4:name1:x" + "9:named keyd1:k1:ve" +
		"6:nestedd1:xi1ee" + "3:rawd1:ki1ee" + "5:smalli-128e" + "1:ui65535ee"
	if string(b) != want {
		t.Fatalf("Marshal =\n%q\nwant\n%q", b, want)
	}
	var out sample
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	in.Skipped = ""
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestOmitEmpty(t *testing.T) {
	b, err := Marshal(sample{Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d7:Default0:5:counti0e4:name1:ne"; string(b) != want {
		t.Errorf("Marshal = %q, want %q", b, want)
	}
}

func TestTypeMismatch(t *testing.T) {
	var s struct {
		A int8   `bencode:"a"`
		B string `bencode:"b"`
		C uint   `bencode:"c"`
		D [2]byte
	}
	err := Unmarshal([]byte("d1:ai300e1:b3:yes1:ci-1ee"), &s)
	var te *UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want UnmarshalTypeError", err)
	}
	if te.Field != "a" || te.Offset != 4 {
		t.Errorf("error = %v, want field a at offset 4", te)
	}
	if s.B != "yes" {
		t.Errorf("decoding stopped at the mismatch: B = %q", s.B)
	}
	for _, in := range []string{"d1:Dl1:xee", "d1:D3:abce", "d1:ci-1ee", "d1:bi1ee", "d1:al1:xee"} {
		if err := Unmarshal([]byte(in), &s); !errors.As(err, &te) {
			t.Errorf("Unmarshal(%q) err = %v, want UnmarshalTypeError", in, err)
		}
	}
	var flag bool
	if err := Unmarshal([]byte("i2e"), &flag); err == nil {
		t.Error("i2e accepted as bool")
	}
	var n int64
	if err := Unmarshal([]byte("i9223372036854775808e"), &n); err == nil {
		t.Error("2^63 accepted as int64")
	}
	var u uint64
	if err := Unmarshal([]byte("i18446744073709551615e"), &u); err != nil || u != math.MaxUint64 {
		t.Errorf("max uint64: %v, %d", err, u)
	}
	// Integers beyond 64 bits are valid bencode; they just fit no Go integer.
	var raw RawMessage
	if err := Unmarshal([]byte("i123456789012345678901234567890e"), &raw); err != nil {
		t.Errorf("big integer into RawMessage: %v", err)
	}
}

func TestRawMessageKeepsExactBytes(t *testing.T) {
	// Unsorted keys inside the info dict: lenient decoding keeps them as is.
	in := []byte("d4:infod4:name1:x6:lengthi5ee3:zzzi1ee")
	var v struct {
		Info RawMessage `bencode:"info"`
	}
	if err := (DecodeOptions{Lenient: true}).Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Info) != "d4:name1:x6:lengthi5ee" {
		t.Errorf("Info = %q", v.Info)
	}
	in[10] = 'Y' // the RawMessage must be a copy, not an alias of the input
	if string(v.Info) != "d4:name1:x6:lengthi5ee" {
		t.Error("RawMessage aliases the input buffer")
	}
	b, err := Marshal(v)
	if err != nil || string(b) != "d4:infod4:name1:x6:lengthi5eee" {
		t.Errorf("Marshal = %q, %v", b, err)
	}
}

func TestInvalidTargets(t *testing.T) {
	var s string
	if err := Unmarshal([]byte("0:"), s); err == nil {
		t.Error("non-pointer accepted")
	}
	if err := Unmarshal([]byte("0:"), nil); err == nil {
		t.Error("nil accepted")
	}
	var dup struct {
		A int `bencode:"k"`
		B int `bencode:"k"`
	}
	if err := Unmarshal([]byte("de"), &dup); err == nil {
		t.Error("struct with a duplicate key accepted")
	}
	if _, err := Marshal(dup); err == nil {
		t.Error("struct with a duplicate key marshalled")
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, v := range []any{nil, 1.5, map[int]int{1: 2}, make(chan int), []any{nil}, RawMessage{}} {
		if b, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%#v) = %q, want error", v, b)
		}
	}
}
