package bencode

import (
	"fmt"
	"reflect"
)

// SyntaxError reports malformed bencode, or input that breaks a limit.
type SyntaxError struct {
	Offset int64  // byte offset of the problem in the input
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: %s at offset %d", e.Msg, e.Offset)
}

// UnmarshalTypeError reports a well-formed value that does not fit the Go
// type it is decoded into. Decoding goes on past it, so the rest of the
// value is still filled in; the first such error is returned.
type UnmarshalTypeError struct {
	Offset int64        // byte offset of the value
	Value  string       // kind of bencode value: "integer", "string", "list", "dict"
	Type   reflect.Type // the Go type it could not be stored in
	Field  string       // dotted path of the struct field or map key, if any
	Reason string       // extra detail, e.g. "overflows int8"
}

func (e *UnmarshalTypeError) Error() string {
	where := ""
	if e.Field != "" {
		where = " (field " + e.Field + ")"
	}
	reason := ""
	if e.Reason != "" {
		reason = ": " + e.Reason
	}
	return fmt.Sprintf("bencode: cannot decode %s into Go value of type %s%s at offset %d%s",
		e.Value, e.Type, where, e.Offset, reason)
}

// InvalidUnmarshalError reports a target that is not a non-nil pointer.
type InvalidUnmarshalError struct{ Type reflect.Type }

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "bencode: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "bencode: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "bencode: Unmarshal(nil " + e.Type.String() + ")"
}

// UnsupportedTypeError reports a Go type that has no bencode form
// (floats, channels, functions, maps with non-string keys, ...).
type UnsupportedTypeError struct{ Type reflect.Type }

func (e *UnsupportedTypeError) Error() string {
	return "bencode: unsupported type " + e.Type.String()
}

// MarshalerError wraps an error returned by a Marshaler or Unmarshaler.
type MarshalerError struct {
	Type reflect.Type
	Err  error
}

func (e *MarshalerError) Error() string {
	return "bencode: error calling method of type " + e.Type.String() + ": " + e.Err.Error()
}

func (e *MarshalerError) Unwrap() error { return e.Err }
