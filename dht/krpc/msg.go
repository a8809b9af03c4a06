package krpc

import (
	"errors"
	"fmt"

	"shoal/bencode"
)

// Bounds that Decode enforces. A datagram cannot be larger than 64 KiB, so
// no list can be very long; the bounds below are tighter still, a few
// times what any real implementation sends.
const (
	MaxDatagram   = 64 << 10 // largest message Decode accepts
	MaxTIDLen     = 32       // transaction ids are usually 2 bytes (BEP 5)
	MaxTokenLen   = 64       // tokens are "short binary strings" (BEP 5)
	MaxVersionLen = 32       // "v" is 4 bytes in BEP 5's examples
	MaxMethodLen  = 64       // longest method name accepted
	MaxNodes      = 256      // entries of "nodes" or "nodes6"
	MaxValues     = 1024     // entries of "values"
	MaxSamples    = 1024     // info hashes in "samples"
	MaxWant       = 8        // strings in "want" (BEP 32)
	BloomLen      = 256      // bytes of a BEP 33 bloom filter
	maxDepth      = 8        // nesting; KRPC needs three levels
)

// Message kinds, the "y" field.
const (
	KindQuery    = "q"
	KindResponse = "r"
	KindError    = "e"
)

// Query methods.
const (
	MethodPing             = "ping"
	MethodFindNode         = "find_node"
	MethodGetPeers         = "get_peers"
	MethodAnnouncePeer     = "announce_peer"
	MethodSampleInfohashes = "sample_infohashes" // BEP 51
)

// Error codes of BEP 5.
const (
	ErrGeneric  = 201
	ErrServer   = 202
	ErrProtocol = 203 // malformed packet, invalid arguments or bad token
	ErrMethod   = 204 // method unknown
)

// Msg is one KRPC message. Exactly one of A (query), R (response) and E
// (error) is set, as Y says.
type Msg struct {
	T  string  `bencode:"t"`            // transaction id
	Y  string  `bencode:"y"`            // KindQuery, KindResponse or KindError
	Q  string  `bencode:"q,omitempty"`  // method of a query
	A  *Args   `bencode:"a,omitempty"`  // arguments of a query
	R  *Return `bencode:"r,omitempty"`  // values of a response
	E  *Error  `bencode:"e,omitempty"`  // an error's code and text
	IP Addr    `bencode:"ip,omitempty"` // BEP 42: the requester's address, in responses and errors
	V  string  `bencode:"v,omitempty"`  // client version: 2-byte client id, 2-byte version
	RO int     `bencode:"ro,omitempty"` // BEP 43: 1 when the querying node is read-only
}

// Args are the arguments of a query.
type Args struct {
	ID          [20]byte  `bencode:"id"`                     // the querying node
	Target      *[20]byte `bencode:"target,omitempty"`       // find_node, sample_infohashes
	InfoHash    *[20]byte `bencode:"info_hash,omitempty"`    // get_peers, announce_peer
	Token       string    `bencode:"token,omitempty"`        // announce_peer (and get_peers when proving the address)
	Port        int       `bencode:"port,omitempty"`         // announce_peer
	ImpliedPort int       `bencode:"implied_port,omitempty"` // announce_peer: use the source port
	Seed        int       `bencode:"seed,omitempty"`         // BEP 33: announcer is a seed
	NoSeed      int       `bencode:"noseed,omitempty"`       // BEP 33: prefer non-seeds in values
	Scrape      int       `bencode:"scrape,omitempty"`       // BEP 33: want the bloom filters
	Want        []string  `bencode:"want,omitempty"`         // BEP 32: "n4", "n6"
}

// Return are the values of a response.
type Return struct {
	ID       [20]byte        `bencode:"id"`               // the responding node
	Nodes    Nodes           `bencode:"nodes,omitempty"`  // IPv4 nodes close to the target
	Nodes6   Nodes6          `bencode:"nodes6,omitempty"` // BEP 32: IPv6 nodes
	Values   Values          `bencode:"values,omitempty"` // get_peers: peers
	Token    string          `bencode:"token,omitempty"`  // get_peers: write token
	Interval *int            `bencode:"interval"`         // BEP 51: seconds before sampling again
	Num      *int            `bencode:"num"`              // BEP 51: info hashes stored
	Samples  *Samples        `bencode:"samples"`          // BEP 51: always present in its replies, even empty
	BFsd     *[BloomLen]byte `bencode:"BFsd"`             // BEP 33: seeds
	BFpe     *[BloomLen]byte `bencode:"BFpe"`             // BEP 33: peers
}

// Error is the "e" list of an error message: a code and a text.
type Error struct {
	Code int
	Msg  string
}

var (
	_ bencode.Marshaler   = (*Error)(nil)
	_ bencode.Unmarshaler = (*Error)(nil)
)

func (e *Error) Error() string { return fmt.Sprintf("krpc error %d: %s", e.Code, e.Msg) }

// MarshalBencode writes [code, message].
func (e *Error) MarshalBencode() ([]byte, error) {
	return bencode.Marshal([]any{e.Code, e.Msg})
}

// UnmarshalBencode reads [code, message]; implementations that send only a
// code, or extra items, are accepted.
func (e *Error) UnmarshalBencode(data []byte) error {
	var list []any
	if err := bencode.Unmarshal(data, &list); err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("empty error list")
	}
	code, ok := list[0].(int64)
	if !ok {
		return fmt.Errorf("error code is %T, want an integer", list[0])
	}
	e.Code = int(code)
	if len(list) > 1 {
		if s, ok := list[1].(string); ok {
			if len(s) > 256 {
				s = s[:256]
			}
			e.Msg = s
		}
	}
	return nil
}

// Encode returns the bencoding of m.
func (m *Msg) Encode() ([]byte, error) { return bencode.Marshal(m) }

var decodeOptions = bencode.DecodeOptions{
	// Real nodes do not all sort their keys; the sizes stay strict.
	Lenient:      true,
	MaxDepth:     maxDepth,
	MaxStringLen: MaxDatagram,
	MaxSize:      MaxDatagram,
}

// Decode parses and checks one datagram. On error the returned message may
// still hold the fields read before the problem (T, Y and Q in particular),
// so a server can answer a malformed query with error 203.
func Decode(b []byte) (*Msg, error) {
	m := new(Msg)
	if len(b) > MaxDatagram {
		return m, fmt.Errorf("krpc: message of %d bytes, limit %d", len(b), MaxDatagram)
	}
	if err := decodeOptions.Unmarshal(b, m); err != nil {
		return m, fmt.Errorf("krpc: %w", err)
	}
	if err := m.check(); err != nil {
		return m, fmt.Errorf("krpc: %w", err)
	}
	return m, nil
}

// check enforces what bencode alone does not: required fields per kind
// and the length bounds.
func (m *Msg) check() error {
	switch {
	case m.T == "":
		return errors.New(`missing transaction id "t"`)
	case len(m.T) > MaxTIDLen:
		return fmt.Errorf("transaction id of %d bytes, limit %d", len(m.T), MaxTIDLen)
	case len(m.V) > MaxVersionLen:
		return fmt.Errorf(`version "v" of %d bytes, limit %d`, len(m.V), MaxVersionLen)
	}
	switch m.Y {
	case KindQuery:
		if m.Q == "" || len(m.Q) > MaxMethodLen {
			return fmt.Errorf(`query method "q" of %d bytes`, len(m.Q))
		}
		if m.A == nil {
			return errors.New(`query without arguments "a"`)
		}
		if len(m.A.Token) > MaxTokenLen {
			return fmt.Errorf("token of %d bytes, limit %d", len(m.A.Token), MaxTokenLen)
		}
		if len(m.A.Want) > MaxWant {
			return fmt.Errorf(`%d "want" entries, limit %d`, len(m.A.Want), MaxWant)
		}
		if m.A.Port < 0 || m.A.Port > 65535 {
			return fmt.Errorf("port %d out of range", m.A.Port)
		}
	case KindResponse:
		if m.R == nil {
			return errors.New(`response without return values "r"`)
		}
		if len(m.R.Token) > MaxTokenLen {
			return fmt.Errorf("token of %d bytes, limit %d", len(m.R.Token), MaxTokenLen)
		}
	case KindError:
		if m.E == nil {
			return errors.New(`error message without "e"`)
		}
	default:
		return fmt.Errorf(`message kind "y" = %q, want "q", "r" or "e"`, m.Y)
	}
	return nil
}

// WantsNodes reports which node lists a find_node or get_peers query asks
// for (BEP 32): with no "want", the family the query arrived over.
func (a *Args) WantsNodes(arrivedOverV6 bool) (v4, v6 bool) {
	if len(a.Want) == 0 {
		return !arrivedOverV6, arrivedOverV6
	}
	for _, w := range a.Want {
		switch w {
		case "n4":
			v4 = true
		case "n6":
			v6 = true
		}
	}
	return v4, v6
}
