package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Version is Shoal's version, used in the peer id and the client name.
const Version = "0.1.0"

// peerIDPrefix is the Azureus-style client tag (BEP 20): "SH" and the
// version digits.
const peerIDPrefix = "-SH0100-"

// Config configures a Session. The zero value works: every field has a
// default, applied by NewSession.
type Config struct {
	// DataDir holds the resume database. Empty: no resume data is kept.
	// A session does not restore its torrents by itself: call
	// Session.RestoreTorrents once after NewSession.
	DataDir string
	// ListenAddr is the TCP address to accept peers on, such as
	// "127.0.0.1:0" or ":6881". Empty: any address, a port the system picks.
	ListenAddr string
	// NoListen disables accepting incoming connections.
	NoListen bool
	// MaxConns bounds peer connections over all torrents (default 200).
	MaxConns int
	// MaxConnsPerTorrent bounds peer connections per torrent (default 50).
	MaxConnsPerTorrent int
	// MaxHalfOpen bounds outgoing connection attempts in progress (default 20).
	MaxHalfOpen int
	// UploadSlots is the number of regular upload slots per torrent (default 4),
	// besides the optimistic unchoke.
	UploadSlots int
	// DownloadRate and UploadRate cap the session's payload rates in bytes
	// per second; 0 means unlimited.
	DownloadRate, UploadRate int64
	// PieceMemory is the memory budget for pieces being downloaded, over all
	// torrents (default 64 MiB).
	PieceMemory int64
	// HashWorkers is the number of goroutines hashing pieces (default: cores).
	HashWorkers int
	// DiskWorkers is the number of goroutines writing pieces (default 4).
	DiskWorkers int
	// CachedWrites writes every downloaded piece through the page cache.
	// By default the aligned parts of pieces of 256 KiB or more are written
	// with O_DIRECT (Linux) while no connected peer is interested in us:
	// such a download is not read back soon, and going around the cache
	// cost a leecher a third of the CPU here; see engine/direct_writes.go.
	CachedWrites bool
	// MaxOpenFiles bounds open file handles per torrent (default 32).
	MaxOpenFiles int
	// HandshakeTimeout bounds connecting to a peer and the BitTorrent
	// handshake (default 10 s): a peer that connects and sends nothing, or
	// trickles its handshake a byte at a time, is dropped after it.
	HandshakeTimeout time.Duration
	// IdleTimeout drops a connected peer from which no whole message, not
	// even a keep-alive, has arrived for this long (default 3 min: BEP 3
	// peers send a keep-alive every 2 min). Our own keep-alives go out
	// every 2 min, or at two thirds of IdleTimeout if that is sooner.
	IdleTimeout time.Duration
	// RequestTimeout is how long a requested block may take before it is
	// given to another peer and the peer counts as snubbed (default 60 s).
	RequestTimeout time.Duration
	// ResumeInterval is how often verified pieces are synced and recorded
	// in the resume store while downloading (default 5 s).
	ResumeInterval time.Duration
	// TrackerStopTimeout bounds the "stopped" announce a torrent sends its
	// tracker when it stops (default 5 s).
	TrackerStopTimeout time.Duration
	// SuperSeed says when a torrent that starts complete super-seeds
	// (BEP 16; default SuperSeedAuto: when its upload is capped).
	SuperSeed SuperSeedMode
	// DHT runs a DHT node (BEP 5) in the session, a peer source for every
	// torrent that is not private (BEP 27). Off unless DHT.Enabled: a
	// program embedding the engine decides whether it talks to the world.
	DHT DHTConfig
	// LSD announces torrents on the local network by multicast and finds
	// peers there (BEP 14). Off by default, as in Transmission.
	LSD bool
	// NoPEX turns off peer exchange (BEP 11), which is otherwise used with
	// every peer that supports it, for torrents that are not private.
	NoPEX bool
	// Logger receives the engine's logs (default: discard).
	Logger *slog.Logger
}

// DHTConfig configures the session's DHT node.
type DHTConfig struct {
	// Enabled runs the node.
	Enabled bool
	// ListenAddr is the UDP address of the node. Empty: the host and port
	// of the TCP listener (the port peers learn from our PORT message).
	ListenAddr string
	// Bootstrap lists "host:port" nodes to join the DHT through. Nil:
	// dht.DefaultBootstrap, the well-known public routers; tests give
	// local nodes.
	Bootstrap []string
	// ReadOnly makes the node query only, never answer (BEP 43): for
	// hosts that cannot be reached from outside.
	ReadOnly bool
}

func (c Config) withDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = ":0"
	}
	setDefault(&c.MaxConns, 200)
	setDefault(&c.MaxConnsPerTorrent, 50)
	setDefault(&c.MaxHalfOpen, 20)
	setDefault(&c.UploadSlots, 4)
	setDefault(&c.HashWorkers, runtime.NumCPU())
	setDefault(&c.DiskWorkers, 4)
	setDefault(&c.MaxOpenFiles, 32)
	if c.PieceMemory <= 0 {
		c.PieceMemory = 64 << 20
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 3 * time.Minute
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.ResumeInterval <= 0 {
		c.ResumeInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

// clientName is what we tell peers in the BEP 10 handshake's "v".
func clientName() string { return fmt.Sprintf("Shoal %s", Version) }
