package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"shoal/engine"
)

// defaultPort is the peer port shoal tries first, the one most clients
// know; when it is taken, any free port is used.
const defaultPort = 6881

// sessionFlags are the flags every command that runs a session shares.
type sessionFlags struct {
	port    int
	bind    string
	peers   []string
	maxDown rateValue
	maxUp   rateValue
	dataDir string
	// cachedWrites writes downloads through the page cache (engine.Config.CachedWrites).
	cachedWrites bool
	// noDHT turns the session's DHT node off; dhtBootstrap are the nodes
	// it joins through (none given: the engine's default, the public
	// routers).
	noDHT        bool
	dhtBootstrap []string
	// lsd turns on local service discovery (BEP 14).
	lsd bool
}

func (f *sessionFlags) register(flags *pflag.FlagSet, withDown bool) {
	flags.IntVar(&f.port, "port", defaultPort, "TCP port to accept peers on (0: any free port)")
	flags.StringVar(&f.bind, "bind", "", "IP address to accept peers on (default: all)")
	flags.StringArrayVar(&f.peers, "peer", nil, "`HOST:PORT` of a peer to connect to (repeatable)")
	if withDown {
		flags.Var(&f.maxDown, "max-down", "download rate limit in bytes per second (`RATE`: 500K, 10M, 1G)")
		flags.BoolVar(&f.cachedWrites, "cached-writes", false, "write downloaded data through the page cache instead of O_DIRECT")
	}
	flags.Var(&f.maxUp, "max-up", "upload rate limit in bytes per second (`RATE`: 500K, 10M, 1G)")
	flags.StringVar(&f.dataDir, "data-dir", "", "directory for resume data (default: $XDG_DATA_HOME/shoal or ~/.local/share/shoal)")
	flags.BoolVar(&f.noDHT, "no-dht", false, "do not use the DHT (BEP 5) to find peers")
	flags.StringArrayVar(&f.dhtBootstrap, "dht-bootstrap", nil, "`HOST:PORT` of a DHT node to join through (repeatable; default: the public routers)")
	flags.BoolVar(&f.lsd, "lsd", false, "find peers on the local network by multicast (BEP 14)")
}

// newSession starts a session on the configured port, falling back to any
// free port when the default one is in use.
func (f *sessionFlags) newSession() (*engine.Session, error) {
	if f.noDHT && len(f.dhtBootstrap) > 0 {
		return nil, usagef("--no-dht and --dht-bootstrap contradict each other")
	}
	dataDir := f.dataDir
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	cfg := engine.Config{
		DataDir:      dataDir,
		ListenAddr:   net.JoinHostPort(f.bind, strconv.Itoa(f.port)),
		DownloadRate: f.maxDown.bytes,
		UploadRate:   f.maxUp.bytes,
		CachedWrites: f.cachedWrites,
		Logger:       envLogger(),
		DHT:          engine.DHTConfig{Enabled: !f.noDHT, Bootstrap: f.dhtBootstrap},
		LSD:          f.lsd,
	}
	s, err := engine.NewSession(cfg)
	if err != nil && f.port == defaultPort && errors.Is(err, syscall.EADDRINUSE) {
		cfg.ListenAddr = net.JoinHostPort(f.bind, "0")
		s, err = engine.NewSession(cfg)
	}
	return s, err
}

// resolvePeers turns --peer values into addresses, resolving host names.
func (f *sessionFlags) resolvePeers(ctx context.Context) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, p := range f.peers {
		host, portText, err := net.SplitHostPort(p)
		if err != nil {
			return nil, fmt.Errorf("--peer %q: want HOST:PORT", p)
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || port == 0 {
			return nil, fmt.Errorf("--peer %q: bad port", p)
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("--peer %q: cannot resolve %s", p, host)
		}
		out = append(out, netip.AddrPortFrom(ips[0].Unmap(), uint16(port)))
	}
	return out, nil
}

// defaultDataDir follows the XDG base directory convention.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "shoal")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "shoal")
	}
	return filepath.Join(os.TempDir(), "shoal")
}

// rateValue is a --max-down/--max-up flag: bytes per second, 0 = unlimited.
type rateValue struct{ bytes int64 }

func (v *rateValue) String() string {
	if v.bytes == 0 {
		return "unlimited"
	}
	return formatSize(v.bytes) + "/s"
}

func (v *rateValue) Set(s string) error {
	n, err := parseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return err
	}
	v.bytes = n
	return nil
}

func (v *rateValue) Type() string { return "RATE" }

// parseFileSelection reads --only: file indices and inclusive ranges such as
// "0,2,5-7" (the same form as a magnet link's so=, BEP 53).
func parseFileSelection(s string, numFiles int) ([]bool, error) {
	want := make([]bool, numFiles)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err1 := strconv.Atoi(lo)
		last := first
		var err2 error
		if isRange {
			last, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || first < 0 || last < first {
			return nil, fmt.Errorf("--only %q: %q is not an index or a range like 5-7", s, part)
		}
		if last >= numFiles {
			return nil, fmt.Errorf("--only %q: the torrent has files 0 to %d", s, numFiles-1)
		}
		for i := first; i <= last; i++ {
			want[i] = true
		}
	}
	return want, nil
}

// envLogger returns a logger writing the engine's logs to stderr at the
// level SHOAL_LOG names (debug, info, warn, error), or nil (no logs) when
// it is unset: a way to see why a peer was dropped without a debugger.
func envLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("SHOAL_LOG"))); err != nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
