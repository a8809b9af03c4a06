package dht

import (
	"log/slog"
	"net"
	"time"
)

// DefaultBootstrap are well-known routers of the Mainline DHT.
var DefaultBootstrap = []string{"router.bittorrent.com:6881", "dht.transmissionbt.com:6881",
	"router.utorrent.com:6881", "dht.libtorrent.org:25401"}

// Defaults for the zero values of Config.
const (
	DefaultQueryTimeout       = 2 * time.Second // libtorrent waits about as long
	DefaultQueryRate          = 200             // outgoing queries per second
	DefaultQueryBurst         = 50
	DefaultSourceRate         = 20 // incoming queries per second from one IP
	DefaultSourceBurst        = 50
	DefaultMaxSources         = 4096 // source IPs tracked by the incoming limiter
	DefaultMaxTorrents        = 10000
	DefaultMaxPeersPerTorrent = 200
	DefaultPeerTTL            = 30 * time.Minute
	DefaultSaveInterval       = 5 * time.Minute
	DefaultVersion            = "SH\x01\x00" // "v": client "SH", version 1.0 (BEP 5, BEP 20)

	// AmplificationFactor bounds a reply to a query that carries no proof
	// of its source address: at most this many times the query's size.
	AmplificationFactor = 4
	// MaxReplySize is BEP 32's datagram limit, which every reply respects.
	MaxReplySize = 1024
)

// Timing rules of BEP 5 and the token rotation it describes.
const (
	goodNodeAge       = 15 * time.Minute // a node is good within this of its last reply
	bucketRefresh     = 15 * time.Minute
	tokenRotation     = 5 * time.Minute
	failuresUntilBad  = 2 // "fail to respond to multiple queries in a row"
	replacementsPerBk = 8
	bucketSize        = 8   // K
	sampleInterval    = 300 // seconds a BEP 51 sample set is kept
)

// Config configures a Node. The zero value of every field but ListenAddr
// or Conn means the default.
type Config struct {
	ListenAddr string         // UDP "host:port", e.g. "127.0.0.1:0"; ignored when Conn is set
	Conn       net.PacketConn // optional socket opened by the caller (not closed by Close)
	ID         ID             // zero: loaded from StateFile, else generated (BEP 42 when our address is public)
	Bootstrap  []string       // "host:port" nodes, resolved when the node starts; nil: none
	StateFile  string         // routing table loaded from here by New, saved on Close and every SaveInterval
	ReadOnly   bool           // BEP 43: ask but never answer
	Logger     *slog.Logger   // nil: discard

	QueryTimeout       time.Duration // how long one query waits for its reply
	QueryRate          float64       // outgoing queries per second
	QueryBurst         int           // outgoing burst
	SourceRate         float64       // incoming queries per second from one IP
	SourceBurst        int           // incoming burst from one IP
	MaxSources         int           // IPs the incoming limiter remembers
	MaxTorrents        int           // info hashes in the peer store
	MaxPeersPerTorrent int           // peers stored per info hash
	PeerTTL            time.Duration // how long an announced peer is kept
	SaveInterval       time.Duration // how often the state file is written
	Version            string        // "v" sent in every message
}

func (c *Config) setDefaults() {
	setDefault(&c.QueryTimeout, DefaultQueryTimeout)
	setDefault(&c.QueryRate, DefaultQueryRate)
	setDefault(&c.QueryBurst, DefaultQueryBurst)
	setDefault(&c.SourceRate, DefaultSourceRate)
	setDefault(&c.SourceBurst, DefaultSourceBurst)
	setDefault(&c.MaxSources, DefaultMaxSources)
	setDefault(&c.MaxTorrents, DefaultMaxTorrents)
	setDefault(&c.MaxPeersPerTorrent, DefaultMaxPeersPerTorrent)
	setDefault(&c.PeerTTL, DefaultPeerTTL)
	setDefault(&c.SaveInterval, DefaultSaveInterval)
	setDefault(&c.Version, DefaultVersion)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Stats is a snapshot of a Node: table and store sizes, and counters since
// the node started.
type Stats struct {
	Nodes     int // nodes in the routing table
	GoodNodes int // of which good (BEP 5)
	Buckets   int // buckets of the routing table
	Torrents  int // info hashes with stored peers
	Peers     int // stored peers, all info hashes
	Sources   int // source IPs the incoming rate limiter remembers (at most Config.MaxSources)

	QueriesIn  int64 // queries received (including dropped ones)
	QueriesOut int64 // queries sent
	RepliesIn  int64 // replies to our queries
	RepliesOut int64 // replies we sent
	ErrorsIn   int64 // error messages received
	Errors     int64 // error messages we sent
	Timeouts   int64 // our queries that got no answer in time
	Dropped    int64 // incoming queries dropped by the rate limit or read-only mode
	Malformed  int64 // datagrams that did not decode
	Trimmed    int64 // replies trimmed to stay within the amplification bound
	BadTokens  int64 // announce_peer queries refused for a missing, wrong or expired token
}
