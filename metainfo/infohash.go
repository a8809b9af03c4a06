package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// infoHashHexLen is the length of an info hash written as hex digits.
	infoHashHexLen = 2 * len(InfoHash{})
	// infoHashBase32Len is the length of an info hash written in RFC 4648
	// base32: 160 bits are exactly 32 five-bit characters, so no padding.
	infoHashBase32Len = 32
)

// ParseInfoHash parses a v1 info hash written as 40 hex digits or as 32
// base32 characters (RFC 4648 alphabet), in either case. BEP 9 asks
// clients to accept the base32 form because older magnet links use it.
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	switch len(s) {
	case infoHashHexLen:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return InfoHash{}, fmt.Errorf("info hash %q: invalid hex: %v", s, err)
		}
		return h, nil
	case infoHashBase32Len:
		upper := strings.ToUpper(s)
		// Check the alphabet ourselves: the base32 decoder silently skips
		// '\r' and '\n', which would let a malformed string through.
		for i := 0; i < len(upper); i++ {
			c := upper[i]
			if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
				return InfoHash{}, fmt.Errorf("info hash %q: invalid base32 character %q at offset %d", s, c, i)
			}
		}
		if _, err := base32.StdEncoding.Decode(h[:], []byte(upper)); err != nil {
			return InfoHash{}, fmt.Errorf("info hash %q: invalid base32: %v", s, err)
		}
		return h, nil
	default:
		return InfoHash{}, fmt.Errorf("info hash %q: want %d hex digits or %d base32 characters, got %d characters",
			truncateForError(s), infoHashHexLen, infoHashBase32Len, len(s))
	}
}

// MarshalText encodes the info hash as 40 lowercase hex digits, so JSON and
// other text encodings show it the way trackers and clients print it.
func (h InfoHash) MarshalText() ([]byte, error) {
	out := make([]byte, infoHashHexLen)
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText accepts whatever ParseInfoHash accepts (hex or base32).
func (h *InfoHash) UnmarshalText(text []byte) error {
	parsed, err := ParseInfoHash(string(text))
	if err != nil {
		return err
	}
	*h = parsed
	return nil
}

// truncateForError shortens untrusted input quoted in an error message so a
// huge value cannot blow up logs.
func truncateForError(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
