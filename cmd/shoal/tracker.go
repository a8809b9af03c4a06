package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"shoal/tracker/server"
)

// trackerGCPercent is the tracker's GOGC unless the environment sets one.
const trackerGCPercent = 25

// trackerFlags are the options of "shoal tracker".
type trackerFlags struct {
	httpAddr     string
	udpAddr      string
	interval     time.Duration
	allowPath    string
	proxyHeader  string
	trustedProxy []string
}

func newTrackerCommand() *cobra.Command {
	var o trackerFlags
	cmd := &cobra.Command{
		Use:   "tracker",
		Short: "Run a BitTorrent tracker (HTTP and UDP)",
		Long: `Run a BitTorrent tracker: HTTP announce and scrape at /announce and
/scrape, UDP announce and scrape (BEP 15), statistics as JSON at /stats and
Prometheus metrics at /metrics.

With --allow FILE only the info hashes listed in FILE (one 40-digit hex hash
per line, '#' starts a comment) are tracked; SIGHUP re-reads the file.
SIGINT or SIGTERM stops the tracker. An empty --http or --udp address turns
that frontend off.`,
		Example: `  shoal tracker --http 127.0.0.1:6969 --udp 127.0.0.1:6969 --interval 30m
  shoal tracker --allow hashes.txt --proxy-header X-Forwarded-For --trusted-proxy 10.0.0.0/8`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTracker(cmd.Context(), &o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.httpAddr, "http", ":6969", "`ADDR` for HTTP announce, scrape, /stats and /metrics (empty: off)")
	f.StringVar(&o.udpAddr, "udp", ":6969", "`ADDR` for UDP announce and scrape (empty: off)")
	f.DurationVar(&o.interval, "interval", server.DefaultInterval, "announce interval sent to clients; silent peers expire after twice this")
	f.StringVar(&o.allowPath, "allow", "", "track only the info hashes listed in `FILE` (reloaded on SIGHUP)")
	f.StringVar(&o.proxyHeader, "proxy-header", "", "take the client address from `HEADER` (e.g. X-Forwarded-For) when the request comes from a trusted proxy")
	f.StringSliceVar(&o.trustedProxy, "trusted-proxy", nil, "`CIDR` of reverse proxies whose --proxy-header is believed (repeatable)")
	return cmd
}

func runTracker(ctx context.Context, o *trackerFlags, stderr io.Writer) error {
	if o.httpAddr == "" && o.udpAddr == "" {
		return usagef("--http and --udp are both empty: nothing to serve")
	}
	if o.interval < time.Second {
		return usagef("--interval %v: must be at least 1s", o.interval)
	}
	cfg := server.Config{
		Interval:    o.interval,
		ProxyHeader: o.proxyHeader,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, s := range o.trustedProxy {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(s))
			if aerr != nil {
				return usagef("--trusted-proxy %q: want a CIDR like 10.0.0.0/8 or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if len(cfg.TrustedProxies) > 0 && o.proxyHeader == "" {
		return usagef("--trusted-proxy needs --proxy-header")
	}
	if o.allowPath != "" {
		al, err := server.LoadAllowList(o.allowPath)
		if err != nil {
			return err
		}
		cfg.AllowList = al
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	// A tracker's heap is almost all peer records, which hold no pointers
	// and so cost the collector nothing to mark; collecting at 25 % growth
	// instead of 100 % keeps RSS near the live data at little CPU cost.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(trackerGCPercent)
	}

	var ln net.Listener
	var udp *net.UDPConn
	if o.httpAddr != "" {
		if ln, err = net.Listen("tcp", o.httpAddr); err != nil {
			return fmt.Errorf("tracker: %w", err)
		}
	}
	if o.udpAddr != "" {
		ua, err := net.ResolveUDPAddr("udp", o.udpAddr)
		if err == nil {
			udp, err = net.ListenUDP("udp", ua)
		}
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			return fmt.Errorf("tracker: %w", err)
		}
	}

	// SIGHUP reloads the allow-list; SIGINT and SIGTERM end ctx (main).
	hupC := make(chan os.Signal, 1)
	signal.Notify(hupC, syscall.SIGHUP)
	defer signal.Stop(hupC)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hupC:
				if cfg.AllowList == nil {
					fmt.Fprintln(stderr, "tracker: SIGHUP: no --allow file to reload")
				} else if err := srv.ReloadAllowList(); err != nil {
					fmt.Fprintf(stderr, "tracker: SIGHUP: keeping the old allow-list: %s\n", oneLine(err.Error()))
				} else {
					fmt.Fprintf(stderr, "tracker: allow-list reloaded: %d info hashes\n", cfg.AllowList.Len())
				}
			}
		}
	}()

	var where []string
	if ln != nil {
		where = append(where, "HTTP on "+ln.Addr().String())
	}
	if udp != nil {
		where = append(where, "UDP on "+udp.LocalAddr().String())
	}
	fmt.Fprintf(stderr, "tracker: %s; interval %v; Ctrl-C to stop\n", strings.Join(where, ", "), o.interval)
	if err := srv.Serve(ctx, ln, udp); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "tracker: stopped")
	return nil
}
