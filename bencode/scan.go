package bencode

import (
	"bytes"
	"fmt"
	"math"
)

// Limits that apply when DecodeOptions leaves them zero.
const (
	DefaultMaxDepth     = 64
	DefaultMaxStringLen = 64 << 20
	DefaultMaxSize      = 256 << 20
)

// DecodeOptions configures decoding. The zero value is strict BEP 3 with
// the default limits.
type DecodeOptions struct {
	// Lenient accepts dictionaries whose keys are unsorted or repeated, as
	// some real-world torrents have; the last of repeated keys wins.
	// Everything else stays strict.
	Lenient bool
	// MaxDepth bounds the nesting of lists and dictionaries (0: DefaultMaxDepth).
	MaxDepth int
	// MaxStringLen bounds the length of one string (0: DefaultMaxStringLen).
	MaxStringLen int
	// MaxSize bounds the bytes one value may take (0: DefaultMaxSize).
	MaxSize int64
}

func (o DecodeOptions) withDefaults() DecodeOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxStringLen <= 0 {
		o.MaxStringLen = DefaultMaxStringLen
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	return o
}

// scanner walks bencoded bytes held in memory. It checks syntax and limits
// and reports offsets relative to base, the position of data in its stream.
type scanner struct {
	data  []byte
	off   int
	depth int
	base  int64
	opts  DecodeOptions
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Offset: s.base + int64(off), Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) eof() error {
	return s.errorf(len(s.data), "unexpected end of input")
}

// enter and leave track list and dictionary nesting against MaxDepth.
func (s *scanner) enter() error {
	s.depth++
	if s.depth > s.opts.MaxDepth {
		return s.errorf(s.off, "nesting deeper than %d levels", s.opts.MaxDepth)
	}
	return nil
}

func (s *scanner) leave() { s.depth-- }

// scanInt reads "i<digits>e" at s.off. mag is the magnitude; overflow is
// set when it does not fit in a uint64 (BEP 3 sets no bound, so such an
// integer is well-formed but fits no Go integer).
func (s *scanner) scanInt() (neg bool, mag uint64, overflow bool, err error) {
	start := s.off
	s.off++ // 'i'
	if s.off < len(s.data) && s.data[s.off] == '-' {
		neg = true
		s.off++
	}
	digits := s.off
	for s.off < len(s.data) && isDigit(s.data[s.off]) {
		d := uint64(s.data[s.off] - '0')
		if mag > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			mag = mag*10 + d
		}
		s.off++
	}
	switch {
	case s.off >= len(s.data):
		return false, 0, false, s.eof()
	case s.off == digits:
		return false, 0, false, s.errorf(s.off, "integer without digits")
	case s.data[s.off] != 'e':
		return false, 0, false, s.errorf(s.off, "invalid character %q in integer", s.data[s.off])
	case s.data[digits] == '0' && s.off-digits > 1:
		return false, 0, false, s.errorf(digits, "integer with a leading zero")
	case neg && mag == 0 && !overflow:
		return false, 0, false, s.errorf(start, "negative zero")
	}
	s.off++ // 'e'
	return neg, mag, overflow, nil
}

// scanString reads "<length>:<bytes>" at s.off and returns the bytes,
// which alias s.data.
func (s *scanner) scanString() ([]byte, error) {
	start := s.off
	n := 0
	for s.off < len(s.data) && isDigit(s.data[s.off]) {
		n = n*10 + int(s.data[s.off]-'0')
		if n > s.opts.MaxStringLen {
			return nil, s.errorf(start, "string longer than the limit of %d bytes", s.opts.MaxStringLen)
		}
		s.off++
	}
	switch {
	case s.off >= len(s.data):
		return nil, s.eof()
	case s.off == start:
		return nil, s.errorf(s.off, "invalid character %q, expected a string", s.data[s.off])
	case s.data[s.off] != ':':
		return nil, s.errorf(s.off, "invalid character %q in string length", s.data[s.off])
	case s.data[start] == '0' && s.off-start > 1:
		return nil, s.errorf(start, "string length with a leading zero")
	}
	s.off++ // ':'
	if len(s.data)-s.off < n {
		return nil, s.errorf(start, "string of %d bytes runs past the end of input", n)
	}
	str := s.data[s.off : s.off+n]
	s.off += n
	return str, nil
}

// scanKey reads a dictionary key, which BEP 3 says must be a string.
func (s *scanner) scanKey() ([]byte, error) {
	if s.off < len(s.data) && !isDigit(s.data[s.off]) {
		return nil, s.errorf(s.off, "dictionary key must be a string, found %q", s.data[s.off])
	}
	return s.scanString()
}

// checkKey enforces BEP 3's rule that dictionary keys appear in sorted
// order with no repeats, unless the options are lenient.
func (s *scanner) checkKey(prev, key []byte, first bool, keyOff int) error {
	if first || s.opts.Lenient {
		return nil
	}
	switch c := bytes.Compare(prev, key); {
	case c == 0:
		return s.errorf(keyOff, "duplicate dictionary key %q", key)
	case c > 0:
		return s.errorf(keyOff, "dictionary key %q out of order (keys must be sorted)", key)
	}
	return nil
}

// skip checks one value at s.off and moves past it.
func (s *scanner) skip() error {
	if s.off >= len(s.data) {
		return s.eof()
	}
	switch c := s.data[s.off]; {
	case c == 'i':
		_, _, _, err := s.scanInt()
		return err
	case isDigit(c):
		_, err := s.scanString()
		return err
	case c == 'l':
		if err := s.enter(); err != nil {
			return err
		}
		s.off++
		for {
			if s.off >= len(s.data) {
				return s.eof()
			}
			if s.data[s.off] == 'e' {
				s.off++
				s.leave()
				return nil
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case c == 'd':
		if err := s.enter(); err != nil {
			return err
		}
		s.off++
		var prev []byte
		for first := true; ; first = false {
			if s.off >= len(s.data) {
				return s.eof()
			}
			if s.data[s.off] == 'e' {
				s.off++
				s.leave()
				return nil
			}
			keyOff := s.off
			key, err := s.scanKey()
			if err != nil {
				return err
			}
			if err := s.checkKey(prev, key, first, keyOff); err != nil {
				return err
			}
			prev = key
			if err := s.skip(); err != nil {
				return err
			}
		}
	default:
		return s.errorf(s.off, "invalid character %q at the start of a value", c)
	}
}
