package bencode

import (
	"bytes"
	"math"
	"reflect"
	"strings"
)

// Unmarshal decodes the single bencoded value in data into v, which must be
// a non-nil pointer, strictly as BEP 3 says and with the default limits.
// Trailing bytes after the value are an error. Unknown dictionary keys are
// ignored when decoding into a struct. A value of the wrong type for its
// target is skipped and reported as an *UnmarshalTypeError after the rest
// has been decoded; a syntax error stops decoding and may leave v partly
// filled.
//
// Strings decode into string, []byte, a byte array of the same length, or
// an empty interface (as string); integers into any integer kind, bool (0 or
// 1) or an empty interface (as int64); lists into slices, arrays or []any;
// dictionaries into structs, maps with string keys or map[string]any.
func Unmarshal(data []byte, v any) error {
	return DecodeOptions{}.Unmarshal(data, v)
}

// Unmarshal is like the package's Unmarshal with these options.
func (o DecodeOptions) Unmarshal(data []byte, v any) error {
	return o.withDefaults().unmarshalAt(data, 0, v)
}

// unmarshalAt decodes data, which starts at offset base of its stream.
func (o DecodeOptions) unmarshalAt(data []byte, base int64, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	d := decodeState{scanner: scanner{data: data, base: base, opts: o}}
	if int64(len(data)) > o.MaxSize {
		return d.errorf(int(o.MaxSize), "input larger than the limit of %d bytes", o.MaxSize)
	}
	if len(data) == 0 {
		return d.eof()
	}
	if err := d.value(rv.Elem()); err != nil {
		return err
	}
	if d.off != len(data) {
		return d.errorf(d.off, "trailing data after the value")
	}
	return d.typeErr
}

// decodeState decodes one value from memory into Go values.
type decodeState struct {
	scanner
	keys    [][]byte // dictionary keys leading to the current value, for errors
	typeErr error    // the first UnmarshalTypeError, reported at the end
}

var unmarshalerType = reflect.TypeFor[Unmarshaler]()

// indirect walks through pointers to the value to fill, allocating as it
// goes, and stops early at a value that decodes itself.
func indirect(v reflect.Value) (Unmarshaler, reflect.Value) {
	for {
		if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
			return v.Addr().Interface().(Unmarshaler), v
		}
		if v.Kind() != reflect.Pointer {
			return nil, v
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if v.Type().Implements(unmarshalerType) {
			return v.Interface().(Unmarshaler), v
		}
		v = v.Elem()
	}
}

func (d *decodeState) value(v reflect.Value) error {
	if d.off >= len(d.data) {
		return d.eof()
	}
	u, v := indirect(v)
	if u != nil {
		start := d.off
		if err := d.skip(); err != nil {
			return err
		}
		if err := u.UnmarshalBencode(d.data[start:d.off]); err != nil {
			return &MarshalerError{Type: v.Type(), Err: err}
		}
		return nil
	}
	switch c := d.data[d.off]; {
	case c == 'i':
		return d.integer(v)
	case isDigit(c):
		return d.str(v)
	case c == 'l':
		return d.list(v)
	case c == 'd':
		return d.dict(v)
	default:
		return d.errorf(d.off, "invalid character %q at the start of a value", c)
	}
}

// mismatch records that the value at off does not fit v, and skips it.
func (d *decodeState) mismatch(off int, what string, t reflect.Type, reason string) error {
	if d.typeErr == nil {
		var path []string
		for _, k := range d.keys {
			path = append(path, string(k))
		}
		d.typeErr = &UnmarshalTypeError{
			Offset: d.base + int64(off), Value: what, Type: t,
			Field: strings.Join(path, "."), Reason: reason,
		}
	}
	if d.off == off {
		return d.skip()
	}
	return nil
}

func isEmptyInterface(v reflect.Value) bool {
	return v.Kind() == reflect.Interface && v.NumMethod() == 0
}

func (d *decodeState) integer(v reflect.Value) error {
	start := d.off
	neg, mag, overflow, err := d.scanInt()
	if err != nil {
		return err
	}
	t := v.Type()
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		limit := uint64(1)<<(t.Bits()-1) - 1
		if neg {
			limit++
		}
		if overflow || mag > limit {
			return d.mismatch(start, "integer", t, "out of range")
		}
		if neg {
			v.SetInt(int64(-mag)) // wraps correctly for math.MinInt64
		} else {
			v.SetInt(int64(mag))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if neg || overflow || (t.Bits() < 64 && mag >= 1<<t.Bits()) {
			return d.mismatch(start, "integer", t, "out of range")
		}
		v.SetUint(mag)
	case reflect.Bool:
		if neg || mag > 1 {
			return d.mismatch(start, "integer", t, "a bool must be 0 or 1")
		}
		v.SetBool(mag == 1)
	default:
		if !isEmptyInterface(v) {
			return d.mismatch(start, "integer", t, "")
		}
		if overflow || mag > math.MaxInt64+uint64(b2i(neg)) {
			return d.mismatch(start, "integer", t, "out of the range of int64")
		}
		n := int64(mag)
		if neg {
			n = int64(-mag)
		}
		v.Set(reflect.ValueOf(n))
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (d *decodeState) str(v reflect.Value) error {
	start := d.off
	s, err := d.scanString()
	if err != nil {
		return err
	}
	t := v.Type()
	switch {
	case v.Kind() == reflect.String:
		v.SetString(string(s))
	case v.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		v.SetBytes(bytes.Clone(s))
		if v.IsNil() {
			v.SetBytes([]byte{})
		}
	case v.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8:
		if v.Len() != len(s) {
			return d.mismatch(start, "string", t, "wrong length")
		}
		for i, b := range s {
			v.Index(i).SetUint(uint64(b))
		}
	case isEmptyInterface(v):
		v.Set(reflect.ValueOf(string(s)))
	default:
		return d.mismatch(start, "string", t, "")
	}
	return nil
}

func (d *decodeState) list(v reflect.Value) error {
	start := d.off
	if isEmptyInterface(v) {
		var items []any
		if err := d.listItems(func() reflect.Value {
			items = append(items, nil)
			return reflect.ValueOf(&items[len(items)-1]).Elem()
		}); err != nil {
			return err
		}
		if items == nil {
			items = []any{}
		}
		v.Set(reflect.ValueOf(items))
		return nil
	}
	switch v.Kind() {
	case reflect.Slice:
		n := 0
		err := d.listItems(func() reflect.Value {
			if n >= v.Cap() {
				v.Grow(1)
			}
			if n >= v.Len() {
				v.SetLen(n + 1)
			}
			n++
			elem := v.Index(n - 1)
			elem.SetZero()
			return elem
		})
		if err != nil {
			return err
		}
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		v.SetLen(n)
		return nil
	case reflect.Array:
		n := 0
		var discard any
		err := d.listItems(func() reflect.Value {
			n++
			if n > v.Len() {
				return reflect.ValueOf(&discard).Elem()
			}
			return v.Index(n - 1)
		})
		if err != nil {
			return err
		}
		if n != v.Len() {
			return d.mismatch(start, "list", v.Type(), "wrong length")
		}
		return nil
	}
	return d.mismatch(start, "list", v.Type(), "")
}

// listItems decodes each item of the list at d.off into the value next
// returns for it.
func (d *decodeState) listItems(next func() reflect.Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.off++ // 'l'
	for {
		if d.off >= len(d.data) {
			return d.eof()
		}
		if d.data[d.off] == 'e' {
			d.off++
			d.leave()
			return nil
		}
		if err := d.value(next()); err != nil {
			return err
		}
	}
}
