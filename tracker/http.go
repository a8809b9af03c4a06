package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"shoal/bencode"
)

// httpClient returns the HTTP client to use: the caller's, or one with a
// transport of the Client's own so Close can drop its idle connections.
func (c *Client) httpClient() (*http.Client, error) {
	if c.HTTP != nil {
		return c.HTTP, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	if c.transport == nil {
		c.transport = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
			TLSHandshakeTimeout: 15 * time.Second,
		}
	}
	return &http.Client{Transport: c.transport}, nil
}

// announceURL adds the BEP 3 query parameters to the tracker's URL,
// keeping any query it already has (a passkey, say).
func announceURL(u *url.URL, req AnnounceRequest) string {
	q := []string{
		"info_hash=" + url.QueryEscape(string(req.InfoHash[:])),
		"peer_id=" + url.QueryEscape(string(req.PeerID[:])),
		"port=" + strconv.Itoa(int(req.Port)),
		"uploaded=" + strconv.FormatInt(max(req.Uploaded, 0), 10),
		"downloaded=" + strconv.FormatInt(max(req.Downloaded, 0), 10),
		"left=" + strconv.FormatInt(max(req.Left, 0), 10),
		"compact=1", // BEP 23; trackers may still answer with a list
		"key=" + strconv.FormatUint(uint64(req.Key), 16),
	}
	if req.Event != EventNone {
		q = append(q, "event="+req.Event.String())
	}
	if req.NumWant >= 0 {
		q = append(q, "numwant="+strconv.Itoa(req.NumWant))
	}
	if req.TrackerID != "" {
		q = append(q, "trackerid="+url.QueryEscape(req.TrackerID))
	}
	return withQuery(u, strings.Join(q, "&"))
}

// withQuery returns u with query appended to its own.
func withQuery(u *url.URL, query string) string {
	v := *u
	v.Fragment = ""
	if v.RawQuery != "" {
		v.RawQuery += "&" + query
	} else {
		v.RawQuery = query
	}
	return v.String()
}

// getBencoded fetches a tracker URL and returns the body, at most
// MaxHTTPResponse bytes.
func (c *Client) getBencoded(ctx context.Context, target string) ([]byte, error) {
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if c.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(body) > MaxHTTPResponse {
		return nil, fmt.Errorf("response larger than %d bytes", MaxHTTPResponse)
	}
	if resp.StatusCode != http.StatusOK {
		// Some trackers explain a refusal in a bencoded body even then.
		var f struct {
			Reason *string `bencode:"failure reason"`
		}
		if lenient.Unmarshal(body, &f) == nil && f.Reason != nil {
			return nil, &FailureError{Reason: *f.Reason}
		}
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return body, nil
}

// lenient decodes tracker responses: real trackers do not always sort
// their dictionary keys.
var lenient = bencode.DecodeOptions{Lenient: true, MaxSize: MaxHTTPResponse, MaxDepth: 8}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, req AnnounceRequest) (*AnnounceResponse, error) {
	body, err := c.getBencoded(ctx, announceURL(u, req))
	if err != nil {
		return nil, err
	}
	return parseHTTPAnnounce(body, c.maxPeers())
}

// httpAnnounceBody is the dictionary an HTTP tracker answers with.
type httpAnnounceBody struct {
	FailureReason *string            `bencode:"failure reason"`
	Warning       string             `bencode:"warning message"`
	Interval      *int64             `bencode:"interval"`
	MinInterval   int64              `bencode:"min interval"`
	TrackerID     string             `bencode:"tracker id"`
	Complete      *int64             `bencode:"complete"`
	Incomplete    *int64             `bencode:"incomplete"`
	Peers         bencode.RawMessage `bencode:"peers"`
	Peers6        bencode.RawMessage `bencode:"peers6"`
	ExternalIP    []byte             `bencode:"external ip"`
}

// maxInterval bounds the intervals a tracker may ask for, so a wild value
// cannot silence a torrent for years.
const maxInterval = 24 * time.Hour

// parseHTTPAnnounce decodes an HTTP announce response (BEP 3, 7, 23, 24).
func parseHTTPAnnounce(body []byte, maxPeers int) (*AnnounceResponse, error) {
	var b httpAnnounceBody
	if err := lenient.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("malformed response: %w", err)
	}
	if b.FailureReason != nil {
		return nil, &FailureError{Reason: *b.FailureReason}
	}
	if b.Interval == nil {
		return nil, errors.New("malformed response: no interval")
	}
	r := &AnnounceResponse{Warning: b.Warning, TrackerID: b.TrackerID, Seeders: -1, Leechers: -1}
	var err error
	if r.Interval, err = seconds("interval", *b.Interval); err != nil {
		return nil, err
	}
	if r.MinInterval, err = seconds("min interval", b.MinInterval); err != nil {
		return nil, err
	}
	if b.Complete != nil {
		if r.Seeders, err = count("complete", *b.Complete); err != nil {
			return nil, err
		}
	}
	if b.Incomplete != nil {
		if r.Leechers, err = count("incomplete", *b.Incomplete); err != nil {
			return nil, err
		}
	}
	switch len(b.ExternalIP) {
	case 0:
	case 4, 16:
		ip, _ := netip.AddrFromSlice(b.ExternalIP)
		r.ExternalIP = ip.Unmap()
	default:
		return nil, fmt.Errorf("malformed response: external ip is %d bytes, want 4 or 16", len(b.ExternalIP))
	}
	if r.Peers, err = parsePeerField("peers", b.Peers, 4, nil, maxPeers); err != nil {
		return nil, err
	}
	if r.Peers, err = parsePeerField("peers6", b.Peers6, 16, r.Peers, maxPeers); err != nil {
		return nil, err
	}
	return r, nil
}

// seconds checks a duration in seconds from a tracker.
func seconds(key string, n int64) (time.Duration, error) {
	if n < 0 || n > int64(maxInterval/time.Second) {
		return 0, fmt.Errorf("malformed response: %s %d s out of range", key, n)
	}
	return time.Duration(n) * time.Second, nil
}

// count checks a peer count from a tracker.
func count(key string, n int64) (int, error) {
	if n < 0 || n > 1<<31-1 {
		return 0, fmt.Errorf("malformed response: %s %d out of range", key, n)
	}
	return int(n), nil
}

// parsePeerField decodes "peers" or "peers6": a compact string of
// addresses with 2-byte ports (BEP 23, BEP 7) or, for "peers", a list of
// dictionaries (BEP 3).
func parsePeerField(key string, raw bencode.RawMessage, ipLen int, peers []netip.AddrPort, maxPeers int) ([]netip.AddrPort, error) {
	if len(raw) == 0 {
		return peers, nil
	}
	if raw[0] >= '0' && raw[0] <= '9' {
		var compact []byte
		if err := lenient.Unmarshal(raw, &compact); err != nil {
			return nil, fmt.Errorf("malformed response: %s: %w", key, err)
		}
		return parseCompactPeers(key, compact, ipLen, peers, maxPeers)
	}
	if raw[0] != 'l' || ipLen != 4 {
		return nil, fmt.Errorf("malformed response: %s is neither a compact string nor a list", key)
	}
	var list []struct {
		IP   string `bencode:"ip"`
		Port int64  `bencode:"port"`
	}
	if err := lenient.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("malformed response: %s: %w", key, err)
	}
	for i, p := range list {
		if p.Port < 0 || p.Port > 65535 {
			return nil, fmt.Errorf("malformed response: %s[%d]: port %d out of range", key, i, p.Port)
		}
		// A host name instead of an address is allowed by BEP 3, but we
		// do not resolve names a tracker hands out: skip it.
		ip, err := netip.ParseAddr(p.IP)
		if err != nil {
			continue
		}
		peers = addPeer(peers, ip, uint16(p.Port), maxPeers)
	}
	return peers, nil
}

// parseCompactPeers decodes addresses packed as ipLen address bytes and a
// big-endian port each.
func parseCompactPeers(key string, b []byte, ipLen int, peers []netip.AddrPort, maxPeers int) ([]netip.AddrPort, error) {
	stride := ipLen + 2
	if len(b)%stride != 0 {
		return nil, fmt.Errorf("malformed response: %s is %d bytes, not a multiple of %d", key, len(b), stride)
	}
	for off := 0; off < len(b); off += stride {
		ip, _ := netip.AddrFromSlice(b[off : off+ipLen])
		peers = addPeer(peers, ip, binary.BigEndian.Uint16(b[off+ipLen:]), maxPeers)
	}
	return peers, nil
}
