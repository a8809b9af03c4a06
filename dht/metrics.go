package dht

import (
	"fmt"
	"io"
	"net/http"
)

// WritePrometheus writes s in the Prometheus text exposition format
// (version 0.0.4), by hand as tracker/server does: a dozen numbers do not
// justify a client library. Names start with shoal_dht_.
func (s Stats) WritePrometheus(w io.Writer) error {
	pw := promWriter{w: w}
	pw.family("shoal_dht_nodes", "gauge", "Nodes in the routing table, by state (BEP 5).")
	pw.sample("shoal_dht_nodes", `{state="good"}`, int64(s.GoodNodes))
	pw.sample("shoal_dht_nodes", `{state="questionable"}`, int64(s.Nodes-s.GoodNodes))
	pw.gauge("shoal_dht_buckets", "Buckets of the routing table.", int64(s.Buckets))
	pw.gauge("shoal_dht_torrents", "Info hashes with stored peers.", int64(s.Torrents))
	pw.gauge("shoal_dht_stored_peers", "Peers stored from announce_peer, all info hashes.", int64(s.Peers))
	pw.gauge("shoal_dht_rate_limited_sources", "Source IPs the incoming rate limiter remembers.", int64(s.Sources))
	pw.counter("shoal_dht_queries_in_total", "Queries received, including dropped ones.", s.QueriesIn)
	pw.counter("shoal_dht_queries_out_total", "Queries sent.", s.QueriesOut)
	pw.counter("shoal_dht_replies_in_total", "Replies to our queries.", s.RepliesIn)
	pw.counter("shoal_dht_replies_out_total", "Replies sent.", s.RepliesOut)
	pw.counter("shoal_dht_errors_in_total", "KRPC error messages received.", s.ErrorsIn)
	pw.counter("shoal_dht_errors_out_total", "KRPC error messages sent.", s.Errors)
	pw.counter("shoal_dht_timeouts_total", "Our queries that got no reply in time.", s.Timeouts)
	pw.counter("shoal_dht_dropped_total", "Incoming queries dropped by the per-source rate limit or read-only mode.", s.Dropped)
	pw.counter("shoal_dht_malformed_total", "Datagrams that did not decode.", s.Malformed)
	pw.counter("shoal_dht_trimmed_replies_total", "Replies trimmed to stay within the amplification bound.", s.Trimmed)
	pw.counter("shoal_dht_bad_tokens_total", "announce_peer queries refused for a bad token.", s.BadTokens)
	return pw.err
}

// MetricsHandler serves n's Stats at any path in the Prometheus text
// format, for "shoal dht --metrics".
func (n *Node) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		n.Stats().WritePrometheus(w)
	})
}

// promWriter writes metric families and keeps the first write error.
type promWriter struct {
	w   io.Writer
	err error
}

func (p *promWriter) family(name, typ, help string) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
}

func (p *promWriter) sample(name, labels string, v int64) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, "%s%s %d\n", name, labels, v)
	}
}

func (p *promWriter) gauge(name, help string, v int64) {
	p.family(name, "gauge", help)
	p.sample(name, "", v)
}

func (p *promWriter) counter(name, help string, v int64) {
	p.family(name, "counter", help)
	p.sample(name, "", v)
}
