package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"shoal/dht"
	"shoal/tracker/server"
)

// dhtFlags are the options of "shoal dht".
type dhtFlags struct {
	listen      string
	bootstrap   []string
	noBootstrap bool
	stateFile   string
	readOnly    bool
	interval    time.Duration
	json        bool
	metrics     string
}

func newDHTCommand() *cobra.Command {
	var o dhtFlags
	cmd := &cobra.Command{
		Use:   "dht",
		Short: "Run a standalone DHT node (BEP 5)",
		Long: `Run a DHT node on its own, without downloading anything: a bootstrap node
for a private network, or a node that helps the public DHT. It answers ping,
find_node, get_peers, announce_peer, sample_infohashes (BEP 51) and scrapes
(BEP 33), keeps its routing table in --state across restarts, and reports its
routing-table size and query rates every --interval. With --metrics it serves
its counters (queries, rate-limit drops, refused tokens, malformed packets,
trimmed replies, table and store sizes) in the Prometheus text format at
http://ADDR/metrics.

Without --bootstrap it joins through the well-known public routers;
--no-bootstrap starts a network of its own (its first node). SIGINT or
SIGTERM stops it.`,
		Example: `  shoal dht --listen 0.0.0.0:6881
  shoal dht --listen 10.0.0.1:6881 --no-bootstrap          # first node of a private network
  shoal dht --listen 10.0.0.2:6881 --bootstrap 10.0.0.1:6881`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDHT(cmd.Context(), &o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", ":6881", "UDP `ADDR` to listen on")
	f.StringArrayVar(&o.bootstrap, "bootstrap", nil, "`HOST:PORT` of a node to join through (repeatable; default: the public routers)")
	f.BoolVar(&o.noBootstrap, "no-bootstrap", false, "join through no node: wait to be contacted (first node of a network)")
	f.StringVar(&o.stateFile, "state", "", "keep the routing table in `FILE` (default: dht-node.state in the data directory)")
	f.BoolVar(&o.readOnly, "read-only", false, "query only, never answer (BEP 43)")
	f.DurationVar(&o.interval, "interval", 10*time.Second, "how often to print the node's statistics")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line")
	f.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (empty: off)")
	return cmd
}

// dhtReport is one line of "shoal dht" output.
type dhtReport struct {
	Event        string  `json:"event"` // "listening", "stats" or "stopped"
	Addr         string  `json:"addr"`
	ID           string  `json:"id"`
	Nodes        int     `json:"nodes"`
	GoodNodes    int     `json:"good_nodes"`
	Torrents     int     `json:"torrents"`
	Peers        int     `json:"peers"`
	QueriesInPS  float64 `json:"queries_in_per_sec"`
	QueriesOutPS float64 `json:"queries_out_per_sec"`
	MetricsAddr  string  `json:"metrics_addr,omitempty"` // where --metrics listens
}

func runDHT(ctx context.Context, o *dhtFlags, stdout, stderr io.Writer) error {
	if o.interval < 100*time.Millisecond {
		return usagef("--interval %v: must be at least 100ms", o.interval)
	}
	if o.noBootstrap && len(o.bootstrap) > 0 {
		return usagef("--no-bootstrap and --bootstrap contradict each other")
	}
	cfg := dht.Config{
		ListenAddr: o.listen,
		Bootstrap:  o.bootstrap,
		ReadOnly:   o.readOnly,
		StateFile:  o.stateFile,
		Logger:     envLogger(),
	}
	if cfg.Bootstrap == nil && !o.noBootstrap {
		cfg.Bootstrap = dht.DefaultBootstrap
	}
	if cfg.StateFile == "" {
		cfg.StateFile = filepath.Join(defaultDataDir(), "dht-node.state")
	}
	node, err := dht.New(cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	var metricsAddr string
	if o.metrics != "" {
		addr, stop, err := serveDHTMetrics(o.metrics, node)
		if err != nil {
			return err
		}
		defer stop()
		metricsAddr = addr
	}

	report := func(event string, last dht.Stats, elapsed time.Duration) dht.Stats {
		st := node.Stats()
		r := dhtReport{Event: event, Addr: node.Addr().String(), ID: node.ID().String(),
			Nodes: st.Nodes, GoodNodes: st.GoodNodes, Torrents: st.Torrents, Peers: st.Peers,
			MetricsAddr: metricsAddr}
		if elapsed > 0 {
			r.QueriesInPS = float64(st.QueriesIn-last.QueriesIn) / elapsed.Seconds()
			r.QueriesOutPS = float64(st.QueriesOut-last.QueriesOut) / elapsed.Seconds()
		}
		printDHTReport(stdout, o.json, r)
		return st
	}
	last := report("listening", dht.Stats{}, 0)
	if !o.json {
		fmt.Fprintln(stderr, "dht: Ctrl-C to stop")
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			report("stopped", last, time.Since(lastAt))
			return nil
		case now := <-tick.C:
			last = report("stats", last, now.Sub(lastAt))
			lastAt = now
		}
	}
}

func printDHTReport(w io.Writer, asJSON bool, r dhtReport) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	switch r.Event {
	case "listening":
		fmt.Fprintf(w, "dht: listening on %s, node id %s\n", r.Addr, r.ID)
		if r.MetricsAddr != "" {
			fmt.Fprintf(w, "dht: metrics at http://%s/metrics\n", r.MetricsAddr)
		}
	default:
		fmt.Fprintf(w, "dht: %s: %d nodes (%d good), %d torrents, %d peers stored, queries %.1f/s in, %.1f/s out\n",
			r.Event, r.Nodes, r.GoodNodes, r.Torrents, r.Peers, r.QueriesInPS, r.QueriesOutPS)
	}
}

// serveDHTMetrics serves node's counters at http://addr/metrics until stop
// is called, with the default limits of the tracker's HTTP frontend: only
// GETs of one small page are expected.
func serveDHTMetrics(addr string, node *dht.Node) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", node.MetricsHandler())
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: server.DefaultHTTPReadHeaderTimeout,
		ReadTimeout:       server.DefaultHTTPReadTimeout,
		WriteTimeout:      server.DefaultHTTPWriteTimeout,
		IdleTimeout:       server.DefaultHTTPIdleTimeout,
		MaxHeaderBytes:    server.DefaultHTTPMaxHeaderBytes,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	return ln.Addr().String(), func() { hs.Close(); <-done }, nil
}
