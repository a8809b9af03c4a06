package bencode

import (
	"bufio"
	"errors"
	"io"
)

// Decoder reads bencoded values one after another from a stream. It reads
// no further than the end of each value, so what follows it in the stream
// (more values, or other data) stays available to the next Decode.
type Decoder struct {
	r    *bufio.Reader
	opts DecodeOptions
	off  int64  // stream offset of the next value
	buf  []byte // the bytes of the current value, reused between calls
}

// NewDecoder returns a strict Decoder with the default limits reading from r.
func NewDecoder(r io.Reader) *Decoder { return DecodeOptions{}.NewDecoder(r) }

// NewDecoder returns a Decoder with these options reading from r.
func (o DecodeOptions) NewDecoder(r io.Reader) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Decoder{r: br, opts: o.withDefaults()}
}

// InputOffset returns the stream offset just past the last decoded value.
func (dec *Decoder) InputOffset() int64 { return dec.off }

// Decode reads the next value from the stream into v, under the same rules
// as Unmarshal. At the end of the stream, before any byte of a value, it
// returns io.EOF.
func (dec *Decoder) Decode(v any) error {
	if err := dec.readValue(); err != nil {
		return err
	}
	start := dec.off
	dec.off += int64(len(dec.buf))
	return dec.opts.unmarshalAt(dec.buf, start, v)
}

// readValue reads the bytes of exactly one value into dec.buf. It only
// finds where the value ends; the full syntax check comes after.
func (dec *Decoder) readValue() error {
	dec.buf = dec.buf[:0]
	depth := 0
	for {
		c, err := dec.readByte()
		if err != nil {
			if errors.Is(err, io.EOF) && len(dec.buf) == 0 {
				return io.EOF
			}
			return dec.streamErr(err)
		}
		switch {
		case c == 'i':
			if err := dec.readUntil('e'); err != nil {
				return err
			}
		case isDigit(c):
			n, err := dec.readStringLength(c)
			if err != nil {
				return err
			}
			if err := dec.readN(n); err != nil {
				return err
			}
		case c == 'l' || c == 'd':
			depth++
			if depth > dec.opts.MaxDepth {
				return dec.syntaxErr("nesting deeper than %d levels", dec.opts.MaxDepth)
			}
			continue
		case c == 'e' && depth > 0:
			depth--
		default:
			return dec.syntaxErr("invalid character %q at the start of a value", c)
		}
		if depth == 0 {
			return nil
		}
	}
}

func (dec *Decoder) syntaxErr(format string, args ...any) error {
	s := scanner{base: dec.off}
	return s.errorf(len(dec.buf)-1, format, args...)
}

func (dec *Decoder) streamErr(err error) error {
	if errors.Is(err, io.EOF) {
		return &SyntaxError{Offset: dec.off + int64(len(dec.buf)), Msg: "unexpected end of input"}
	}
	return err
}

func (dec *Decoder) readByte() (byte, error) {
	if int64(len(dec.buf)) >= dec.opts.MaxSize {
		return 0, &SyntaxError{Offset: dec.off + int64(len(dec.buf)),
			Msg: "value larger than the limit of " + itoa(dec.opts.MaxSize) + " bytes"}
	}
	c, err := dec.r.ReadByte()
	if err != nil {
		return 0, err
	}
	dec.buf = append(dec.buf, c)
	return c, nil
}

// readUntil reads bytes up to and including stop (MaxSize bounds it).
func (dec *Decoder) readUntil(stop byte) error {
	for {
		c, err := dec.readByte()
		if err != nil {
			return dec.streamErr(err)
		}
		if c == stop {
			return nil
		}
	}
}

// readStringLength reads the rest of a string's length prefix and the ':'.
func (dec *Decoder) readStringLength(first byte) (int, error) {
	n := int(first - '0')
	for {
		c, err := dec.readByte()
		if err != nil {
			return 0, dec.streamErr(err)
		}
		if c == ':' {
			return n, nil
		}
		if !isDigit(c) {
			return 0, dec.syntaxErr("invalid character %q in string length", c)
		}
		n = n*10 + int(c-'0')
		if n > dec.opts.MaxStringLen {
			return 0, dec.syntaxErr("string longer than the limit of %d bytes", dec.opts.MaxStringLen)
		}
	}
}

// readN reads n more bytes, growing the buffer as data arrives rather than
// trusting the claimed length up front.
func (dec *Decoder) readN(n int) error {
	if int64(len(dec.buf))+int64(n) > dec.opts.MaxSize {
		return dec.syntaxErr("value larger than the limit of %d bytes", dec.opts.MaxSize)
	}
	const chunk = 64 << 10
	for n > 0 {
		step := min(n, chunk)
		start := len(dec.buf)
		dec.buf = append(dec.buf, make([]byte, step)...)
		got, err := io.ReadFull(dec.r, dec.buf[start:])
		dec.buf = dec.buf[:start+got]
		if err != nil {
			return dec.streamErr(io.EOF)
		}
		n -= step
	}
	return nil
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
