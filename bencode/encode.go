package bencode

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
)

// Marshal returns the bencoding of v. Dictionary keys are written sorted,
// so equal values always give equal bytes.
//
// Strings, byte slices and byte arrays become strings; integers and bools
// (as 0 or 1) become integers; slices and arrays lists; maps with string
// keys and structs dictionaries. Struct fields are named by their
// `bencode:"key"` tag or their Go name; ",omitempty" leaves out zero values
// and empty strings, slices and maps; "-" leaves the field out. A nil
// pointer or interface field is left out, since bencode has no null.
// Values implementing Marshaler, such as RawMessage, write their own bytes.
func Marshal(v any) ([]byte, error) {
	var e encodeState
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Encoder writes bencoded values to a stream.
type Encoder struct {
	w io.Writer
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes the bencoding of v.
func (enc *Encoder) Encode(v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	_, err = enc.w.Write(b)
	return err
}

type encodeState struct {
	buf []byte
}

var marshalerType = reflect.TypeFor[Marshaler]()

var errNilValue = errors.New("bencode: cannot encode a nil value")

func (e *encodeState) value(v reflect.Value) error {
	if !v.IsValid() {
		return errNilValue
	}
	t := v.Type()
	if t.Implements(marshalerType) {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return errNilValue
		}
		return e.marshaler(v.Interface().(Marshaler), t)
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && reflect.PointerTo(t).Implements(marshalerType) {
		return e.marshaler(v.Addr().Interface().(Marshaler), t)
	}
	switch v.Kind() {
	case reflect.String:
		e.str(v.String())
	case reflect.Bool:
		e.buf = append(e.buf, 'i', byte('0'+b2i(v.Bool())), 'e')
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = append(e.buf, 'i')
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		e.buf = append(e.buf, 'e')
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = append(e.buf, 'i')
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
		e.buf = append(e.buf, 'e')
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			e.bytes(v)
			return nil
		}
		e.buf = append(e.buf, 'l')
		for i := 0; i < v.Len(); i++ {
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, 'e')
	case reflect.Map:
		return e.mapValue(v)
	case reflect.Struct:
		return e.structValue(v)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return errNilValue
		}
		return e.value(v.Elem())
	default:
		return &UnsupportedTypeError{Type: t}
	}
	return nil
}

func (e *encodeState) marshaler(m Marshaler, t reflect.Type) error {
	b, err := m.MarshalBencode()
	if err != nil {
		return &MarshalerError{Type: t, Err: err}
	}
	e.buf = append(e.buf, b...)
	return nil
}

func (e *encodeState) str(s string) {
	e.buf = strconv.AppendInt(e.buf, int64(len(s)), 10)
	e.buf = append(e.buf, ':')
	e.buf = append(e.buf, s...)
}

func (e *encodeState) bytes(v reflect.Value) {
	n := v.Len()
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, ':')
	if v.Kind() == reflect.Slice {
		e.buf = append(e.buf, v.Bytes()...)
		return
	}
	for i := 0; i < n; i++ {
		e.buf = append(e.buf, byte(v.Index(i).Uint()))
	}
}

func (e *encodeState) mapValue(v reflect.Value) error {
	if v.Type().Key().Kind() != reflect.String {
		return &UnsupportedTypeError{Type: v.Type()}
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		switch sa, sb := a.String(), b.String(); {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	e.buf = append(e.buf, 'd')
	for _, k := range keys {
		e.str(k.String())
		if err := e.value(v.MapIndex(k)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, 'e')
	return nil
}

func (e *encodeState) structValue(v reflect.Value) error {
	fields := cachedFields(v.Type())
	if fields.hasErr != nil {
		return fields.hasErr
	}
	e.buf = append(e.buf, 'd')
	for _, f := range fields.list {
		fv := v.Field(f.index)
		if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Interface) && fv.IsNil() {
			continue
		}
		if f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		e.str(f.key)
		if err := e.value(fv); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, 'e')
	return nil
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}
