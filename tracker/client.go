package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"shoal/metainfo"
)

// Event is the event parameter of an announce (BEP 3).
type Event int

// The announce events. EventNone is a regular re-announce.
const (
	EventNone Event = iota
	EventCompleted
	EventStarted
	EventStopped
)

// String returns the event's name as the HTTP tracker protocol spells it
// ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return ""
}

// AnnounceRequest is what a client tells a tracker about itself.
type AnnounceRequest struct {
	InfoHash metainfo.InfoHash
	PeerID   [20]byte
	// Port is the TCP port we accept peers on.
	Port uint16
	// Uploaded, Downloaded and Left are payload byte counts: since the
	// "started" event, and the bytes still wanted (BEP 3).
	Uploaded, Downloaded, Left int64
	Event                      Event
	// NumWant is how many peers we would like; negative lets the tracker
	// choose.
	NumWant int
	// Key identifies us to the tracker across IP address changes.
	Key uint32
	// TrackerID is the "tracker id" the tracker sent before (HTTP only).
	TrackerID string
}

// AnnounceResponse is a tracker's answer to an announce.
type AnnounceResponse struct {
	// Interval is how long to wait before the next regular announce;
	// MinInterval, if not zero, the least the tracker will accept.
	Interval, MinInterval time.Duration
	// Seeders and Leechers are the swarm's size as the tracker sees it, -1
	// when it did not say.
	Seeders, Leechers int
	// Peers are the addresses of other peers, IPv4 and IPv6 together.
	Peers []netip.AddrPort
	// TrackerID is a "tracker id" to send back next time (HTTP only).
	TrackerID string
	// Warning is a "warning message": the announce still worked.
	Warning string
	// ExternalIP is our address as the tracker saw it (BEP 24), if it said.
	ExternalIP netip.Addr
}

// ScrapeStats are one torrent's counts from a scrape (BEP 48).
type ScrapeStats struct {
	Seeders   int // peers with the whole torrent ("complete")
	Leechers  int // peers still downloading ("incomplete")
	Completed int // downloads the tracker has seen finish ("downloaded")
}

// FailureError is a tracker's refusal: an HTTP "failure reason" or a UDP
// error packet. The tracker is alive; it just said no.
type FailureError struct {
	Reason string
}

func (e *FailureError) Error() string { return "tracker refused: " + e.Reason }

// Limits on what a tracker may send.
const (
	// MaxHTTPResponse bounds an HTTP tracker response body.
	MaxHTTPResponse = 1 << 20
	// DefaultMaxPeers bounds the peers taken from one response; a longer
	// list is cut, not rejected.
	DefaultMaxPeers = 1000
	// maxUDPPacket is the largest datagram read from a UDP tracker.
	maxUDPPacket = 64 << 10
)

// BEP 15's retransmission schedule: wait 15·2^n seconds, n from 0 to 8.
const (
	DefaultUDPRetransmitBase = 15 * time.Second
	DefaultUDPMaxRetransmits = 8
)

// Client announces to and scrapes trackers. The zero value is ready to
// use; Close releases its sockets. A Client is safe for concurrent use.
type Client struct {
	// HTTP does HTTP(S) requests; nil uses a transport of the Client's own.
	HTTP *http.Client
	// UserAgent is sent to HTTP trackers, if set.
	UserAgent string
	// UDPRetransmitBase is the first UDP timeout (BEP 15: 15 s), doubled
	// after each retransmission; UDPMaxRetransmits is the largest n.
	UDPRetransmitBase time.Duration
	UDPMaxRetransmits int
	// MaxPeers bounds the peers taken from one response (0: DefaultMaxPeers).
	MaxPeers int

	mu        sync.Mutex
	transport *http.Transport
	udp       map[string]*udpTracker // by host:port
	closed    bool
}

// ErrClientClosed is returned by a Client after Close.
var ErrClientClosed = errors.New("tracker: client closed")

// Announce sends one announce to the tracker at rawURL (http, https or
// udp) and returns its answer. ctx bounds the whole exchange, UDP
// retransmissions included.
func (c *Client) Announce(ctx context.Context, rawURL string, req AnnounceRequest) (*AnnounceResponse, error) {
	u, err := parseTrackerURL(rawURL)
	if err != nil {
		return nil, err
	}
	var resp *AnnounceResponse
	switch u.Scheme {
	case "http", "https":
		resp, err = c.announceHTTP(ctx, u, req)
	case "udp":
		resp, err = c.announceUDP(ctx, u, req)
	}
	if err != nil {
		return nil, fmt.Errorf("tracker %s: %w", rawURL, err)
	}
	return resp, nil
}

// Scrape asks the tracker at rawURL for the counts of the given torrents.
// Torrents the tracker does not know may be missing from the result (HTTP)
// or come back as zeros (UDP, which cannot tell).
func (c *Client) Scrape(ctx context.Context, rawURL string, hashes []metainfo.InfoHash) (map[metainfo.InfoHash]ScrapeStats, error) {
	u, err := parseTrackerURL(rawURL)
	if err != nil {
		return nil, err
	}
	if len(hashes) == 0 {
		return nil, errors.New("tracker: scrape of no torrents")
	}
	var out map[metainfo.InfoHash]ScrapeStats
	switch u.Scheme {
	case "http", "https":
		out, err = c.scrapeHTTP(ctx, u, hashes)
	case "udp":
		out, err = c.scrapeUDP(ctx, u, hashes)
	}
	if err != nil {
		return nil, fmt.Errorf("tracker %s: scrape: %w", rawURL, err)
	}
	return out, nil
}

// Close closes the Client's UDP sockets and idle HTTP connections. Calls
// in progress fail; later calls return ErrClientClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	trackers := c.udp
	c.udp = nil
	tr := c.transport
	c.mu.Unlock()
	for _, ut := range trackers {
		ut.close()
	}
	if tr != nil {
		tr.CloseIdleConnections()
	}
	return nil
}

func (c *Client) maxPeers() int {
	if c.MaxPeers > 0 {
		return c.MaxPeers
	}
	return DefaultMaxPeers
}

// parseTrackerURL checks that rawURL is a tracker URL we can talk to.
func parseTrackerURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: bad URL %q: %w", rawURL, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "http", "https":
	case "udp":
		if u.Port() == "" {
			return nil, fmt.Errorf("tracker: UDP tracker URL %q has no port", rawURL)
		}
	default:
		return nil, fmt.Errorf("tracker: URL %q: unsupported scheme %q (want http, https or udp)", rawURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("tracker: URL %q has no host", rawURL)
	}
	return u, nil
}

// addPeer appends a peer address unless it cannot be dialled or the list
// is full. An IPv6 zone ("fe80::1%eth0" in a BEP 3 peer dictionary) names
// an interface of the tracker's host, not ours: such a peer is skipped
// rather than dialled on whichever local interface the tracker named.
func addPeer(peers []netip.AddrPort, ip netip.Addr, port uint16, maxPeers int) []netip.AddrPort {
	if len(peers) >= maxPeers || port == 0 || !ip.IsValid() || ip.IsUnspecified() || ip.Zone() != "" {
		return peers
	}
	return append(peers, netip.AddrPortFrom(ip.Unmap(), port))
}

// CheckURL reports whether rawURL is a tracker URL the Client can talk to
// (http, https or udp with a host), and if not, why.
func CheckURL(rawURL string) error {
	_, err := parseTrackerURL(rawURL)
	return err
}
