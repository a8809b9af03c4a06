package main

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// minPieceLength is the smallest piece length shoal will create. BEP 3 only
// asks for a power of two; 16 KiB is the block size peers request (BEP 3,
// "request"), and no client makes pieces smaller than one block.
const minPieceLength = 16 << 10

// maxPieceLength is the largest piece length shoal will create (2^28, as
// mktorrent): a client must hold a whole piece in memory to verify it.
const maxPieceLength = 256 << 20

// sizeUnits maps a size suffix (lower-cased) to its multiplier. Every unit is
// a power of 1024, as in other torrent tools: a piece length is always a power
// of two, so "4MB" meaning 4,000,000 bytes would never be what anyone wants.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1 << 10,
	"kb":  1 << 10,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mb":  1 << 20,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gb":  1 << 30,
	"gib": 1 << 30,
}

// parseSize reads a byte count such as "262144", "16K", "16k", "4MiB" or
// "1G". It checks syntax and range only; whether the size suits a purpose
// (a piece length must be a power of two) is for the caller to decide.
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	digits := 0
	for digits < len(text) && text[digits] >= '0' && text[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes with an optional unit (K, M, G, KiB, MiB, GiB)", s)
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(text[digits:]))]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use K, M, G, KiB, MiB or GiB)", s, text[digits:])
	}
	n, err := strconv.ParseInt(text[:digits], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * unit, nil
}

// checkPieceLength reports whether n may be used as a piece length: BEP 3
// says piece lengths are "almost always a power of two", and every client we
// interoperate with requires it; smaller than one 16 KiB block is refused.
// The builder checks the same; checking here too fails before any hashing
// with a message in the units the user typed.
func checkPieceLength(n int64) error {
	if n < minPieceLength || n > maxPieceLength || bits.OnesCount64(uint64(n)) != 1 {
		return fmt.Errorf("piece size %s is not a power of two from 16 KiB to 256 MiB", formatSize(n))
	}
	return nil
}

// pieceSizeValue is the --piece-size flag: "auto" (stored as 0, which tells
// the builder to choose) or a size accepted by parseSize. Implementing
// pflag.Value makes a malformed value a flag error, which exits with status 2.
type pieceSizeValue struct {
	bytes int64
}

func (v *pieceSizeValue) String() string {
	if v.bytes == 0 {
		return "auto"
	}
	return formatSize(v.bytes)
}

func (v *pieceSizeValue) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "auto") {
		v.bytes = 0
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("piece size must not be zero (use auto to let shoal choose)")
	}
	v.bytes = n
	return nil
}

func (v *pieceSizeValue) Type() string { return "SIZE" }

// formatSize renders a byte count for people: exact multiples of a binary unit
// print without decimals ("256 KiB"), others with one decimal ("1.5 MiB").
func formatSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	value := float64(n)
	unit := -1
	for (value >= 1024 || value <= -1024) && unit < len(units)-1 {
		value /= 1024
		unit++
	}
	// Keep "1023.97 KiB" from printing as "1024.0 KiB".
	if math.Abs(value) >= 1023.95 && unit < len(units)-1 {
		value /= 1024
		unit++
	}
	if value == math.Trunc(value) {
		return fmt.Sprintf("%.0f %ciB", value, units[unit])
	}
	return fmt.Sprintf("%.1f %ciB", value, units[unit])
}
