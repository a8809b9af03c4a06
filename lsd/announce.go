// Package lsd implements BitTorrent Local Service Discovery (BEP 14): peers
// on the same network announce the torrents they take part in with small
// HTTP-like "BT-SEARCH" messages sent to a multicast group, and listeners
// learn a peer's address from the UDP source address plus the announced port.
//
// ParseAnnounce and Announce.Marshal are the wire codec; Service joins the
// group on one interface, announces tracked info hashes and reports the peers
// that announce them.
package lsd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"shoal/metainfo"
)

// The multicast groups of BEP 14: A) org-local IPv4, B) site-local IPv6.
const (
	Group4 = "239.192.152.143:6771"
	Group6 = "[ff15::efc0:988f]:6771"
)

// Limits on one announce. BEP 14 asks senders to keep packets under 1400
// bytes to avoid fragmentation; a 40-hex-digit Infohash header costs 52
// bytes, so 20 of them leave room for the other headers.
const (
	MaxPacketSize = 1400
	MaxInfoHashes = 20
	maxHeaderLen  = 256 // Host and cookie values
)

const requestLine = "BT-SEARCH * HTTP/1.1"

// Announce is one BT-SEARCH message.
type Announce struct {
	Host       string              // the multicast group the message was sent to ("239.192.152.143:6771")
	Port       int                 // the sender's BitTorrent listen port
	InfoHashes []metainfo.InfoHash // torrents the sender takes part in, at most MaxInfoHashes
	Cookie     string              // opaque; lets a sender drop its own looped-back announces
}

// ParseAnnounce decodes a BEP 14 announce. It accepts CRLF or bare LF line
// ends and header names in any case, ignores unknown headers (BEP 14: "any
// additional headers that not understood by a client should be ignored") and
// repeated info hashes, and keeps at most MaxInfoHashes of them. It requires a
// Port and at least one Infohash.
func ParseAnnounce(b []byte) (Announce, error) {
	var a Announce
	if len(b) > MaxPacketSize {
		return a, fmt.Errorf("lsd: announce of %d bytes exceeds %d", len(b), MaxPacketSize)
	}
	rest := b
	line, rest, _ := nextLine(rest)
	if string(bytes.TrimRight(line, " \t")) != requestLine {
		return a, fmt.Errorf("lsd: request line %q is not %q", truncate(line), requestLine)
	}
	var sawPort, sawHost, sawCookie bool
	for lineNo := 2; len(rest) > 0; lineNo++ {
		line, rest, _ = nextLine(rest)
		if len(line) == 0 {
			break // end of headers; BEP 14 adds a second empty line, and anything after is ignored
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return a, fmt.Errorf("lsd: line %d: %q is not a header", lineNo, truncate(line))
		}
		name := string(bytes.TrimSpace(line[:colon]))
		value := string(bytes.Trim(line[colon+1:], " \t"))
		switch strings.ToLower(name) {
		case "host":
			if sawHost {
				return a, fmt.Errorf("lsd: line %d: repeated Host header", lineNo)
			}
			sawHost = true
			if err := checkValue(value); err != nil {
				return a, fmt.Errorf("lsd: line %d: Host: %w", lineNo, err)
			}
			a.Host = value
		case "port":
			if sawPort {
				return a, fmt.Errorf("lsd: line %d: repeated Port header", lineNo)
			}
			sawPort = true
			port, err := parsePort(value)
			if err != nil {
				return a, fmt.Errorf("lsd: line %d: %w", lineNo, err)
			}
			a.Port = port
		case "infohash":
			ih, err := parseHexInfoHash(value)
			if err != nil {
				return a, fmt.Errorf("lsd: line %d: %w", lineNo, err)
			}
			if len(a.InfoHashes) < MaxInfoHashes && !containsHash(a.InfoHashes, ih) {
				a.InfoHashes = append(a.InfoHashes, ih)
			}
		case "cookie":
			if sawCookie {
				return a, fmt.Errorf("lsd: line %d: repeated cookie header", lineNo)
			}
			sawCookie = true
			if err := checkValue(value); err != nil {
				return a, fmt.Errorf("lsd: line %d: cookie: %w", lineNo, err)
			}
			a.Cookie = value
		}
	}
	if !sawPort {
		return a, errors.New("lsd: announce has no Port header")
	}
	if len(a.InfoHashes) == 0 {
		return a, errors.New("lsd: announce has no Infohash header")
	}
	return a, nil
}

// Marshal encodes a in the layout BEP 14 shows, with hex info hashes in
// lowercase. Control characters in Host and Cookie are dropped so a value can
// never start a header of its own. The caller keeps InfoHashes within
// MaxInfoHashes; Marshal writes them all.
func (a Announce) Marshal() []byte {
	var buf bytes.Buffer
	buf.Grow(80 + 52*len(a.InfoHashes) + len(a.Host) + len(a.Cookie))
	buf.WriteString(requestLine + "\r\n")
	buf.WriteString("Host: " + stripControl(a.Host) + "\r\n")
	buf.WriteString("Port: " + strconv.Itoa(a.Port) + "\r\n")
	var hexHash [40]byte
	for _, ih := range a.InfoHashes {
		hex.Encode(hexHash[:], ih[:])
		buf.WriteString("Infohash: ")
		buf.Write(hexHash[:])
		buf.WriteString("\r\n")
	}
	if a.Cookie != "" {
		buf.WriteString("cookie: " + stripControl(a.Cookie) + "\r\n")
	}
	buf.WriteString("\r\n\r\n")
	return buf.Bytes()
}

// nextLine splits off one line ended by LF, dropping a CR before the LF.
func nextLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte("\r")), nil, false
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a decimal number", truncate([]byte(s)))
	}
	port, _ := strconv.Atoi(s) // at most five digits: cannot fail
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", port)
	}
	return port, nil
}

// parseHexInfoHash accepts exactly 40 hex digits in either case (BEP 14:
// "hex-encoded (40 character) infohash").
func parseHexInfoHash(s string) (metainfo.InfoHash, error) {
	var ih metainfo.InfoHash
	if len(s) != 2*len(ih) {
		return ih, fmt.Errorf("infohash %q: want 40 hex digits, got %d characters", truncate([]byte(s)), len(s))
	}
	if _, err := hex.Decode(ih[:], []byte(s)); err != nil {
		return ih, fmt.Errorf("infohash %q: %v", s, err)
	}
	return ih, nil
}

func containsHash(list []metainfo.InfoHash, ih metainfo.InfoHash) bool {
	for _, h := range list {
		if h == ih {
			return true
		}
	}
	return false
}

// checkValue rejects header values that are too long or hold control
// characters, which no legitimate Host or cookie needs.
func checkValue(s string) error {
	if len(s) > maxHeaderLen {
		return fmt.Errorf("value of %d bytes exceeds %d", len(s), maxHeaderLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("control character %#x at offset %d", c, i)
		}
	}
	return nil
}

// stripControl drops the bytes checkValue rejects, byte by byte so other
// (even invalid UTF-8) bytes pass unchanged.
func stripControl(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c >= 0x20 || c == '\t') && c != 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}

func truncate(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
