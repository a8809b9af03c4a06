package peerwire

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// PeerID is the 20-byte id a peer sends in its handshake and announces to
// trackers (BEP 3).
type PeerID [20]byte

// NewPeerID returns a peer id that starts with prefix (an Azureus-style
// client tag such as "-SH0100-", chosen by the caller) and is filled with
// random bytes from crypto/rand. A prefix longer than 20 bytes is cut.
func NewPeerID(prefix string) PeerID {
	var id PeerID
	n := copy(id[:], prefix)
	// crypto/rand.Read never returns an error (Go 1.24+): it crashes the
	// program rather than return predictable bytes.
	_, _ = rand.Read(id[n:])
	return id
}

// String shows the id for logs: its leading printable ASCII bytes as text
// (usually the client tag), then the rest in hex.
func (id PeerID) String() string {
	n := 0
	for n < len(id) && id[n] >= 0x20 && id[n] < 0x7f {
		n++
	}
	return string(id[:n]) + hex.EncodeToString(id[n:])
}

// versionFormat says how the 4 version characters of an Azureus-style id
// (-XXabcd-) turn into a version string.
type versionFormat uint8

const (
	versionABC          versionFormat = iota // a.b.c; d is a build or release tag
	versionABCD                              // a.b.c.d
	versionTransmission                      // a.bc before 4.0, a.b.c from 4.0
	versionShoal                             // a.b.cd: major, minor, two-digit patch
	versionNone                              // no version in the id
)

type azureusClient struct {
	name   string
	format versionFormat
}

// azureusClients maps the two-letter code of Azureus-style ids to client
// names, for clients seen in public swarms. Display only: the id is
// self-reported and anyone can send any code.
var azureusClients = map[string]azureusClient{
	"SH": {"Shoal", versionShoal},
	// Rasterbar libtorrent (qBittorrent, Deluge and the Python bindings use
	// it) sends "-LT", as libtorrent 2.0.8 here does; rakshasa's libTorrent
	// (rTorrent) sends "-lt".
	"LT": {"libtorrent", versionABC},
	"lt": {"libTorrent (rakshasa)", versionABC},
	"TR": {"Transmission", versionTransmission},
	"qB": {"qBittorrent", versionABC},
	"DE": {"Deluge", versionABC},
	"UT": {"µTorrent", versionABC},
	"UM": {"µTorrent Mac", versionABC},
	"UW": {"µTorrent Web", versionABC},
	"BT": {"BitTorrent", versionABC},
	"BW": {"BitTorrent Web", versionABC},
	"AZ": {"Vuze", versionABCD},
	"BI": {"BiglyBT", versionABCD},
	"KT": {"KTorrent", versionABC},
	"PI": {"PicoTorrent", versionABC},
	"FD": {"Free Download Manager", versionABC},
	"FW": {"FrostWire", versionABC},
	"TX": {"Tixati", versionABC},
	"XL": {"Xunlei", versionABCD},
	"SD": {"Thunder", versionABCD},
	"WW": {"WebTorrent", versionNone},
	"WD": {"WebTorrent Desktop", versionNone},
	"RT": {"rTorrent", versionABC},
	"TB": {"Torch", versionABC},
	"BC": {"BitComet", versionABCD},
}

// ClientName makes a best-effort, human-readable client name from a peer
// id, for display only: "-LT2080-…" gives "libtorrent 2.0.8", "-TR3000-…"
// "Transmission 3.00", "-SH0001-…" "Shoal 0.0.1", "A2-1-36-0-…" "aria2
// 1.36.0". Ids it does not recognise come back as 40 hex digits. Shoal's
// own tag is "-SH" + major + minor + two-digit patch + "-".
func ClientName(id PeerID) string {
	if name, ok := azureusName(id); ok {
		return name
	}
	if name, ok := aria2Name(id); ok {
		return name
	}
	if name, ok := mainlineName(id); ok {
		return name
	}
	return hex.EncodeToString(id[:])
}

// azureusName decodes "-XXabcd-" ids.
func azureusName(id PeerID) (string, bool) {
	if string(id[:7]) == "-aria2-" {
		return "aria2", true
	}
	if id[0] != '-' || id[7] != '-' {
		return "", false
	}
	c, ok := azureusClients[string(id[1:3])]
	if !ok {
		return "", false
	}
	var v [4]int
	for i := range v {
		d, ok := versionDigit(id[3+i])
		if !ok {
			return "", false
		}
		v[i] = d
	}
	var version string
	switch c.format {
	case versionABC:
		version = join(v[:3])
	case versionABCD:
		version = join(v[:4])
	case versionTransmission:
		// 3.00 is "-TR3000-"; from 4.0 the digits are major, minor, patch.
		if v[0] >= 4 {
			version = join(v[:3])
		} else {
			version = strconv.Itoa(v[0]) + "." + strconv.Itoa(v[1]) + strconv.Itoa(v[2])
		}
	case versionShoal:
		if v[2] > 9 || v[3] > 9 {
			return "", false
		}
		version = join([]int{v[0], v[1], v[2]*10 + v[3]})
	case versionNone:
		return c.name, true
	}
	return c.name + " " + version, true
}

// versionDigit decodes one version character: 0-9, then A-Z for 10-35 as
// several clients do for components past 9 (e.g. Deluge 1.3.15 "-DE13F0-").
func versionDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	case c >= 'a' && c <= 'z':
		// Lowercase letters are release tags (alpha, beta…) in several
		// clients' last position; count them as 0.
		return 0, true
	}
	return 0, false
}

func join(parts []int) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// aria2Name decodes aria2's "A2-major-minor-patch-" ids.
func aria2Name(id PeerID) (string, bool) {
	if string(id[:3]) != "A2-" {
		return "", false
	}
	parts, ok := dashNumbers(id[3:], 3)
	if !ok {
		return "", false
	}
	return "aria2 " + join(parts), true
}

// mainlineName decodes BitTorrent mainline's "M7-4-3--" style ids.
func mainlineName(id PeerID) (string, bool) {
	if id[0] != 'M' {
		return "", false
	}
	parts, ok := dashNumbers(id[1:], 3)
	if !ok {
		return "", false
	}
	return "BitTorrent " + join(parts), true
}

// dashNumbers parses n decimal numbers each followed by '-' from the start
// of b.
func dashNumbers(b []byte, n int) ([]int, bool) {
	parts := make([]int, 0, n)
	i := 0
	for len(parts) < n {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 3 {
			i++
		}
		if i == start || i >= len(b) || b[i] != '-' {
			return nil, false
		}
		v, _ := strconv.Atoi(string(b[start:i]))
		parts = append(parts, v)
		i++
	}
	return parts, true
}
