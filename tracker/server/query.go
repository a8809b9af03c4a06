package server

import (
	"errors"
	"net/netip"
	"strconv"

	"shoal/metainfo"
)

// Limits on HTTP query strings, so a request cannot make the parser do
// unbounded work.
const (
	maxQueryBytes   = 4096 // a real announce is ~300 bytes
	maxQueryParams  = 64
	maxScrapeHashes = 74 // BEP 15's packet-size limit, applied to HTTP too
)

// DefaultNumWant and MaxNumWant bound how many peers one announce returns.
const (
	DefaultNumWant = 50
	MaxNumWant     = 200
)

// Reject is why a request was refused. Its String is the failure reason sent
// to the client and the label of the rejection counter.
type Reject uint8

// The reasons a request is refused.
const (
	RejectNone Reject = iota
	RejectMalformed
	RejectInfoHash
	RejectPeerID
	RejectPort
	RejectNumber
	RejectEvent
	RejectNotAllowed
	RejectTooManyHashes
	RejectNoHash
	RejectBadConnID
	RejectUnknownAction
	RejectShortPacket
	RejectMethod
	RejectStore
	numRejects
)

var rejectNames = [numRejects]string{
	RejectNone:          "none",
	RejectMalformed:     "malformed query",
	RejectInfoHash:      "info_hash must be 20 bytes",
	RejectPeerID:        "peer_id must be 20 bytes",
	RejectPort:          "port must be 1-65535",
	RejectNumber:        "numeric parameter out of range",
	RejectEvent:         "unknown event",
	RejectNotAllowed:    "info_hash not allowed on this tracker",
	RejectTooManyHashes: "too many info_hash parameters",
	RejectNoHash:        "scrape needs at least one info_hash",
	RejectBadConnID:     "bad connection id",
	RejectUnknownAction: "unknown action",
	RejectShortPacket:   "packet too short",
	RejectMethod:        "method not allowed",
	RejectStore:         "internal error",
}

// rejectLabels are the metric label values, one word each.
var rejectLabels = [numRejects]string{
	"none", "malformed", "info_hash", "peer_id", "port", "number", "event", "not_allowed",
	"too_many_hashes", "no_hash", "bad_connection_id", "unknown_action", "short_packet", "method", "store",
}

func (r Reject) String() string { return rejectNames[r] }

// Error makes a Reject usable as an error.
func (r Reject) Error() string { return r.String() }

// httpAnnounce is a parsed HTTP announce query.
type httpAnnounce struct {
	InfoHash   metainfo.InfoHash
	PeerID     PeerID
	Port       uint16
	Uploaded   int64
	Downloaded int64
	Left       int64
	Event      Event
	NumWant    int // already capped; DefaultNumWant when absent
	Compact    bool
}

// parseAnnounceQuery parses a raw announce query string (BEP 3). The binary
// info_hash and peer_id are percent-encoded bytes, which is why this does
// not go through url.ParseQuery: that would work, but allocates a map of
// slices for every request on the tracker's hottest path.
func parseAnnounceQuery(raw string) (httpAnnounce, error) {
	a := httpAnnounce{NumWant: DefaultNumWant, Compact: true}
	var have struct{ hash, id, port, left bool }
	if len(raw) > maxQueryBytes {
		return a, RejectMalformed
	}
	var buf [64]byte
	err := eachParam(raw, buf[:0], func(key string, val []byte) error {
		switch key {
		case "info_hash":
			if len(val) != 20 {
				return RejectInfoHash
			}
			copy(a.InfoHash[:], val)
			have.hash = true
		case "peer_id":
			if len(val) != 20 {
				return RejectPeerID
			}
			copy(a.PeerID[:], val)
			have.id = true
		case "port":
			n, err := strconv.ParseUint(string(val), 10, 16)
			if err != nil || n == 0 {
				return RejectPort
			}
			a.Port = uint16(n)
			have.port = true
		case "uploaded", "downloaded", "left":
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				return RejectNumber
			}
			switch key {
			case "uploaded":
				a.Uploaded = n
			case "downloaded":
				a.Downloaded = n
			default:
				a.Left = n
				have.left = true
			}
		case "numwant":
			n, err := strconv.ParseInt(string(val), 10, 32)
			if err != nil {
				return RejectNumber
			}
			a.NumWant = capNumWant(n)
		case "event":
			switch string(val) {
			case "", "empty":
				a.Event = EventNone
			case "started":
				a.Event = EventStarted
			case "completed":
				a.Event = EventCompleted
			case "stopped":
				a.Event = EventStopped
			case "paused": // BEP 21: a partial seed pausing is still a member
				a.Event = EventNone
			default:
				return RejectEvent
			}
		case "compact":
			a.Compact = string(val) != "0"
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	switch {
	case !have.hash:
		return a, RejectInfoHash
	case !have.id:
		return a, RejectPeerID
	case !have.port:
		return a, RejectPort
	case !have.left:
		// left decides seeder or leecher; guessing would mislead others.
		return a, RejectNumber
	}
	return a, nil
}

// capNumWant applies BEP 15's "-1 means default" and the server's maximum.
func capNumWant(n int64) int {
	switch {
	case n < 0:
		return DefaultNumWant
	case n > MaxNumWant:
		return MaxNumWant
	}
	return int(n)
}

// parseScrapeQuery returns the info hashes of a scrape query (BEP 48). A
// scrape with no info_hash (a "full scrape") is refused: its answer grows
// with the whole tracker.
func parseScrapeQuery(raw string) ([]metainfo.InfoHash, error) {
	if len(raw) > maxQueryBytes {
		return nil, RejectMalformed
	}
	var hashes []metainfo.InfoHash
	var buf [64]byte
	err := eachParam(raw, buf[:0], func(key string, val []byte) error {
		if key != "info_hash" {
			return nil
		}
		if len(val) != 20 {
			return RejectInfoHash
		}
		if len(hashes) == maxScrapeHashes {
			return RejectTooManyHashes
		}
		hashes = append(hashes, metainfo.InfoHash(val))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(hashes) == 0 {
		return nil, RejectNoHash
	}
	return hashes, nil
}

var errBadEscape = errors.New("bad percent escape")

// eachParam calls fn for each key=value pair of a query string, with the
// value percent-decoded into scratch space (reused between calls). Keys are
// matched undecoded: every key a tracker knows is plain ASCII.
func eachParam(raw string, scratch []byte, fn func(key string, val []byte) error) error {
	params := 0
	for len(raw) > 0 {
		var pair string
		if i := indexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, ""
		}
		if pair == "" {
			continue
		}
		params++
		if params > maxQueryParams {
			return RejectMalformed
		}
		key, val := pair, ""
		if i := indexByte(pair, '='); i >= 0 {
			key, val = pair[:i], pair[i+1:]
		}
		dec, err := unescape(scratch[:0], val)
		if err != nil {
			return RejectMalformed
		}
		if err := fn(key, dec); err != nil {
			return err
		}
		scratch = dec[:0]
	}
	return nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// unescape appends the percent-decoding of s to dst ('+' is a space, as in
// form encoding).
func unescape(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return nil, errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errBadEscape
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// peerAddr joins a client's IP with the port it announced.
func peerAddr(ip netip.Addr, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(ip.Unmap(), port)
}
