package bencode

import "errors"

// Marshaler is implemented by types that encode themselves. The returned
// bytes must be exactly one valid bencoded value.
type Marshaler interface {
	MarshalBencode() ([]byte, error)
}

// Unmarshaler is implemented by types that decode themselves. The argument
// is exactly the bytes of one complete, well-formed value; implementations
// must copy it if they keep it.
type Unmarshaler interface {
	UnmarshalBencode([]byte) error
}

// RawMessage is the exact encoding of one bencoded value. Decoding into a
// RawMessage keeps the bytes as they appeared in the input (a torrent's info
// hash is the SHA-1 of its info dictionary's exact bytes, whatever their key
// order); marshalling one writes it verbatim.
type RawMessage []byte

var (
	_ Marshaler   = RawMessage(nil)
	_ Unmarshaler = (*RawMessage)(nil)
)

// MarshalBencode returns m itself; an empty RawMessage is an error because
// it is not a value.
func (m RawMessage) MarshalBencode() ([]byte, error) {
	if len(m) == 0 {
		return nil, errors.New("empty RawMessage")
	}
	return m, nil
}

// UnmarshalBencode stores a copy of data.
func (m *RawMessage) UnmarshalBencode(data []byte) error {
	*m = append((*m)[:0], data...)
	return nil
}
