package metainfo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Limits on untrusted magnet links. Real links are a few hundred bytes to a
// few KiB (long tracker lists); these bounds only stop abuse.
const (
	// MaxMagnetLen is the longest magnet URI ParseMagnet accepts, in bytes.
	MaxMagnetLen = 64 << 10
	// MaxMagnetParams is the most parameters one magnet URI may carry.
	MaxMagnetParams = 2048
	// MaxSelectIndex is the largest file index a BEP 53 "so" range may name.
	// No real torrent has a million files; larger values are garbage.
	MaxSelectIndex = 1 << 20
	// maxSelectRanges bounds the number of comma-separated "so" entries.
	maxSelectRanges = 4096
	// maxMultihashDigest bounds the digest inside a btmh multihash. BEP 52
	// uses 32-byte SHA-256; 64 leaves room for other hash functions.
	maxMultihashDigest = 64
	// maxVarintLen is the longest unsigned varint the multiformats spec
	// allows (9 bytes, 63 bits).
	maxVarintLen = 9
	// maxPeerHostLen is the longest DNS name (RFC 1035).
	maxPeerHostLen = 253
)

// Magnet is a parsed magnet URI (BEP 9), with BEP 53's select-only list.
// Slices are nil when the link has no such parameter.
type Magnet struct {
	// InfoHash is the v1 info hash from xt=urn:btih:; zero unless HasV1.
	InfoHash InfoHash
	// HasV1 reports whether the link has an xt=urn:btih: exact topic.
	HasV1 bool
	// V2Multihash is the binary multihash from xt=urn:btmh: (BEP 9 for v2
	// torrents, normally 0x12 0x20 + 32-byte SHA-256); nil if absent.
	V2Multihash []byte
	// Name is the display name (dn), shown until the metadata arrives.
	Name string
	// Trackers lists every tr URL in order, duplicates removed.
	Trackers []string
	// WebSeeds lists every ws URL (BEP 19) in order, duplicates removed.
	WebSeeds []string
	// Peers lists every x.pe address ("host:port", "[ipv6]:port") in order,
	// duplicates removed.
	Peers []string
	// SelectOnly holds BEP 53's "so" file index ranges in link order.
	SelectOnly []IndexRange
	// Extra keeps parameters Shoal does not interpret (xl, kt, x.foo, xt
	// with a non-BitTorrent URN, repeated dn, ...) in link order, so that
	// String writes them back. It must not hold btih/btmh topics or the
	// keys above.
	Extra []MagnetParam
}

// IndexRange is an inclusive range of file indices, First <= Last.
type IndexRange struct {
	First, Last int
}

// MagnetParam is one key=value parameter of a magnet URI, unescaped.
type MagnetParam struct {
	Key, Value string
}

// magnetScheme is matched case-insensitively: URI schemes are (RFC 3986).
const magnetScheme = "magnet:"

// ParseMagnet parses a magnet URI. It needs at least one exact topic
// (xt) naming a BitTorrent info hash: urn:btih: with 40 hex digits or 32
// base32 characters, and/or urn:btmh: with a hex multihash. A hybrid
// torrent's link carries one of each (BEP 9). Known parameters are checked
// (x.pe addresses, so ranges); unknown ones are kept in Extra.
func ParseMagnet(uri string) (*Magnet, error) {
	if len(uri) > MaxMagnetLen {
		return nil, fmt.Errorf("magnet: URI is %d bytes, longer than the limit of %d", len(uri), MaxMagnetLen)
	}
	uri = strings.TrimSpace(uri)
	if len(uri) < len(magnetScheme) || !strings.EqualFold(uri[:len(magnetScheme)], magnetScheme) {
		return nil, fmt.Errorf("magnet: %q is not a magnet URI (want prefix %q)", truncateForError(uri), magnetScheme+"?")
	}
	rest := uri[len(magnetScheme):]
	// A fragment is not part of the query (RFC 3986 section 3.5).
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	query, ok := strings.CutPrefix(rest, "?")
	if !ok {
		return nil, fmt.Errorf("magnet: missing '?' after %q", magnetScheme)
	}

	var p magnetParser
	count := 0
	for segment := range strings.SplitSeq(query, "&") {
		if segment == "" {
			continue
		}
		count++
		if count > MaxMagnetParams {
			return nil, fmt.Errorf("magnet: more than %d parameters", MaxMagnetParams)
		}
		rawKey, rawValue, _ := strings.Cut(segment, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("magnet: parameter %d: bad escape in name %q: %v", count, truncateForError(rawKey), err)
		}
		if key == "" {
			// "=value" names nothing; no client could act on it.
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("magnet: parameter %q: bad escape in value %q: %v", truncateForError(key), truncateForError(rawValue), err)
		}
		if err := p.add(key, value); err != nil {
			return nil, err
		}
	}
	if !p.m.HasV1 && p.m.V2Multihash == nil {
		return nil, errors.New("magnet: no exact topic with a BitTorrent info hash (xt=urn:btih:... or xt=urn:btmh:...)")
	}
	return &p.m, nil
}

// magnetParser accumulates parameters into m, remembering what it has seen
// so that repeated values are dropped.
type magnetParser struct {
	m         Magnet
	hasName   bool
	seenTr    map[string]bool
	seenWS    map[string]bool
	seenPeers map[string]bool
}

func (p *magnetParser) add(key, value string) error {
	m := &p.m
	switch lower := strings.ToLower(key); {
	case lower == "xt" || isNumberedKey(lower, "xt"):
		// The magnet draft numbers repeated topics xt.1, xt.2, ...
		handled, err := p.addExactTopic(value)
		if err != nil {
			return err
		}
		if !handled {
			m.Extra = append(m.Extra, MagnetParam{Key: key, Value: value})
		}
	case lower == "dn":
		switch {
		case value == "":
			// An empty name says nothing; String would not write it back.
		case !p.hasName:
			m.Name, p.hasName = value, true
		default:
			// Keep later names verbatim rather than silently dropping them.
			m.Extra = append(m.Extra, MagnetParam{Key: key, Value: value})
		}
	case lower == "tr":
		m.Trackers = appendUnique(m.Trackers, &p.seenTr, value)
	case lower == "ws":
		m.WebSeeds = appendUnique(m.WebSeeds, &p.seenWS, value)
	case lower == "x.pe":
		if err := validatePeerAddress(value); err != nil {
			return fmt.Errorf("magnet: x.pe=%q: %v", truncateForError(value), err)
		}
		m.Peers = appendUnique(m.Peers, &p.seenPeers, value)
	case lower == "so":
		ranges, err := parseSelectOnly(value, maxSelectRanges-len(m.SelectOnly))
		if err != nil {
			return fmt.Errorf("magnet: so=%q: %v", truncateForError(value), err)
		}
		m.SelectOnly = append(m.SelectOnly, ranges...)
	default:
		m.Extra = append(m.Extra, MagnetParam{Key: key, Value: value})
	}
	return nil
}

// addExactTopic records a btih or btmh topic. It reports false for other
// URN namespaces (ed2k, sha1, ...), which multi-network links carry.
func (p *magnetParser) addExactTopic(value string) (bool, error) {
	const btih, btmh = "urn:btih:", "urn:btmh:"
	m := &p.m
	switch {
	case hasPrefixFold(value, btih):
		h, err := ParseInfoHash(value[len(btih):])
		if err != nil {
			return true, fmt.Errorf("magnet: xt=%s...: %v", btih, err)
		}
		if m.HasV1 && h != m.InfoHash {
			return true, fmt.Errorf("magnet: two different v1 info hashes: %s and %s", m.InfoHash, h)
		}
		m.InfoHash, m.HasV1 = h, true
		return true, nil
	case hasPrefixFold(value, btmh):
		mh, err := parseMultihashHex(value[len(btmh):])
		if err != nil {
			return true, fmt.Errorf("magnet: xt=%s...: %v", btmh, err)
		}
		if m.V2Multihash != nil && string(mh) != string(m.V2Multihash) {
			return true, fmt.Errorf("magnet: two different v2 info hashes: %x and %x", m.V2Multihash, mh)
		}
		m.V2Multihash = mh
		return true, nil
	}
	return false, nil
}

// isNumberedKey reports whether key is base followed by "." and decimal
// digits, like "xt.1".
func isNumberedKey(key, base string) bool {
	suffix, ok := strings.CutPrefix(key, base+".")
	return ok && suffix != "" && allDigits(suffix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendUnique appends value unless it is empty or already in list.
func appendUnique(list []string, seen *map[string]bool, value string) []string {
	if value == "" || (*seen)[value] {
		return list
	}
	if *seen == nil {
		*seen = make(map[string]bool)
	}
	(*seen)[value] = true
	return append(list, value)
}

// parseMultihashHex decodes a hex multihash: <varint code><varint length>
// <digest>, where length must equal the number of digest bytes.
func parseMultihashHex(s string) ([]byte, error) {
	const maxHexLen = 2 * (2*maxVarintLen + maxMultihashDigest)
	if len(s) > maxHexLen {
		return nil, fmt.Errorf("multihash is %d hex digits, longer than the limit of %d", len(s), maxHexLen)
	}
	if s == "" {
		return nil, errors.New("empty multihash")
	}
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("multihash %q has an odd number of hex digits", s)
	}
	mh, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("multihash %q: invalid hex: %v", s, err)
	}
	if err := validateMultihash(mh); err != nil {
		return nil, fmt.Errorf("multihash %q: %v", s, err)
	}
	return mh, nil
}

// validateMultihash checks the multihash header (multiformats spec):
// minimal unsigned varints for the hash function code and digest length,
// and a digest of exactly that length.
func validateMultihash(mh []byte) error {
	_, n, err := readUvarint(mh)
	if err != nil {
		return fmt.Errorf("hash function code: %v", err)
	}
	length, m, err := readUvarint(mh[n:])
	if err != nil {
		return fmt.Errorf("digest length: %v", err)
	}
	digest := mh[n+m:]
	switch {
	case length == 0:
		return errors.New("digest length is zero")
	case length > maxMultihashDigest:
		return fmt.Errorf("digest length %d exceeds the limit of %d", length, maxMultihashDigest)
	case uint64(len(digest)) != length:
		return fmt.Errorf("header says %d digest bytes, found %d", length, len(digest))
	}
	return nil
}

// readUvarint decodes a multiformats unsigned varint, which unlike
// encoding/binary's must be minimally encoded and at most 9 bytes long.
func readUvarint(b []byte) (value uint64, n int, err error) {
	for i := 0; i < len(b); i++ {
		if i == maxVarintLen {
			return 0, 0, fmt.Errorf("varint longer than %d bytes", maxVarintLen)
		}
		c := b[i]
		value |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, errors.New("varint is not minimally encoded")
			}
			return value, i + 1, nil
		}
	}
	return 0, 0, errors.New("truncated varint")
}

// validatePeerAddress checks an x.pe value: "host:port" with a DNS name or
// IPv4 literal, or "[ipv6]:port" (BEP 9), and a port in 1..65535.
func validatePeerAddress(s string) error {
	var host, port string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		inner, after, ok := strings.Cut(rest, "]")
		if !ok {
			return errors.New("missing ']' after IPv6 address")
		}
		addr, err := netip.ParseAddr(inner)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return fmt.Errorf("%q in brackets is not an IPv6 address", truncateForError(inner))
		}
		port, ok = strings.CutPrefix(after, ":")
		if !ok {
			return errors.New("missing ':port' after ']'")
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return errors.New("missing ':port'")
		}
		host, port = s[:i], s[i+1:]
		if err := validatePeerHost(host); err != nil {
			return err
		}
	}
	if port == "" || len(port) > 5 || !allDigits(port) {
		return fmt.Errorf("port %q is not a number", truncateForError(port))
	}
	if n, _ := strconv.Atoi(port); n < 1 || n > 65535 {
		return fmt.Errorf("port %s is outside 1..65535", port)
	}
	return nil
}

// validatePeerHost accepts DNS names and IPv4 literals: letters, digits,
// '-', '.', '_'. Anything else (notably ':', which would be an unbracketed
// IPv6 address) is rejected.
func validatePeerHost(host string) error {
	if host == "" {
		return errors.New("empty host")
	}
	if len(host) > maxPeerHostLen {
		return fmt.Errorf("host is %d bytes, longer than %d", len(host), maxPeerHostLen)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		case c == ':':
			return errors.New("IPv6 address must be in brackets, like [::1]:6881")
		default:
			return fmt.Errorf("invalid character %q in host %q", c, truncateForError(host))
		}
	}
	return nil
}

// parseSelectOnly parses BEP 53's "so" value: comma-separated file indices
// and inclusive ranges, like "0,2,4,6-8". At most limit entries are allowed.
func parseSelectOnly(s string, limit int) ([]IndexRange, error) {
	if s == "" {
		return nil, errors.New("empty index list")
	}
	var ranges []IndexRange
	for item := range strings.SplitSeq(s, ",") {
		if len(ranges) >= limit {
			return nil, fmt.Errorf("more than %d index ranges", maxSelectRanges)
		}
		firstText, lastText, isRange := strings.Cut(item, "-")
		first, err := parseFileIndex(firstText)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %v", truncateForError(item), err)
		}
		last := first
		if isRange {
			if last, err = parseFileIndex(lastText); err != nil {
				return nil, fmt.Errorf("entry %q: %v", truncateForError(item), err)
			}
			if last < first {
				return nil, fmt.Errorf("entry %q: range end %d is before its start %d", item, last, first)
			}
		}
		ranges = append(ranges, IndexRange{First: first, Last: last})
	}
	return ranges, nil
}

// parseFileIndex parses one non-negative decimal file index up to
// MaxSelectIndex. Signs are rejected: "-" separates range ends.
func parseFileIndex(s string) (int, error) {
	if s == "" {
		return 0, errors.New("missing file index")
	}
	if !allDigits(s) {
		return 0, fmt.Errorf("file index %q is not a non-negative decimal number", s)
	}
	if len(s) > len(strconv.Itoa(MaxSelectIndex)) {
		return 0, fmt.Errorf("file index %s exceeds %d", s, MaxSelectIndex)
	}
	n, _ := strconv.Atoi(s)
	if n > MaxSelectIndex {
		return 0, fmt.Errorf("file index %d exceeds %d", n, MaxSelectIndex)
	}
	return n, nil
}

// String formats the magnet in a canonical order: xt (btih, then btmh),
// dn, tr, ws, x.pe, so, then Extra. Hashes are lowercase hex. Values are
// percent-escaped (space as %20, never '+') except for the characters
// libtorrent and Transmission read literally. A Magnet with neither HasV1
// nor V2Multihash set is written with its (v1) InfoHash.
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?")
	first := true
	param := func(key, value string) {
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(value)
	}
	if m.HasV1 || len(m.V2Multihash) == 0 {
		param("xt", "urn:btih:"+m.InfoHash.String())
	}
	if len(m.V2Multihash) > 0 {
		param("xt", "urn:btmh:"+hex.EncodeToString(m.V2Multihash))
	}
	if m.Name != "" {
		param("dn", escapeMagnetValue(m.Name))
	}
	for _, tr := range m.Trackers {
		param("tr", escapeMagnetValue(tr))
	}
	for _, ws := range m.WebSeeds {
		param("ws", escapeMagnetValue(ws))
	}
	for _, pe := range m.Peers {
		// Brackets stay literal: libtorrent 2.0 does not unescape x.pe.
		param("x.pe", escapeMagnetPeer(pe))
	}
	if len(m.SelectOnly) > 0 {
		// Commas stay literal: libtorrent 2.0 ignores an so value holding
		// anything but digits, '-' and ','.
		param("so", formatSelectOnly(m.SelectOnly))
	}
	for _, extra := range m.Extra {
		if extra.Key == "" {
			continue
		}
		param(escapeMagnetValue(extra.Key), escapeMagnetValue(extra.Value))
	}
	return b.String()
}

func formatSelectOnly(ranges []IndexRange) string {
	var b strings.Builder
	for i, r := range ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.First))
		if r.Last != r.First {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.Last))
		}
	}
	return b.String()
}

// escapeMagnetValue percent-escapes s for a magnet query. It keeps RFC 3986
// unreserved characters and ':', '/', '@' (so tracker URLs stay readable)
// and escapes everything else, including '+' (decoded as a space), '&',
// '=', '#', '%' and ';' (which Go's and other parsers treat as separators).
func escapeMagnetValue(s string) string {
	return escapeMagnet(s, "")
}

// escapeMagnet percent-escapes every byte of s that is neither
// isMagnetSafe nor in keep.
func escapeMagnet(s, keep string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isMagnetSafe(c) || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// escapeMagnetPeer escapes an x.pe value like escapeMagnetValue but keeps
// the brackets around an IPv6 literal: libtorrent 2.0 does not decode x.pe,
// so it would not see an address in %5B...%5D.
func escapeMagnetPeer(s string) string {
	return escapeMagnet(s, "[]")
}

func isMagnetSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~', c == ':', c == '/', c == '@':
		return true
	}
	return false
}

// Magnet returns a magnet link for the torrent: its v1 info hash, its name,
// every tracker of every tier (BEP 12) in order, or the single announce URL
// when there is no announce-list, and its web seeds (BEP 19).
func (mi *MetaInfo) Magnet() *Magnet {
	m := &Magnet{InfoHash: mi.InfoHash, HasV1: true, Name: mi.Info.Name}
	var seenTr, seenWS map[string]bool
	for _, tier := range mi.AnnounceList {
		for _, tr := range tier {
			m.Trackers = appendUnique(m.Trackers, &seenTr, tr)
		}
	}
	if len(m.Trackers) == 0 {
		// BEP 12: announce is used only when there is no (usable)
		// announce-list.
		m.Trackers = appendUnique(m.Trackers, &seenTr, mi.Announce)
	}
	for _, ws := range mi.URLList {
		m.WebSeeds = appendUnique(m.WebSeeds, &seenWS, ws)
	}
	return m
}
