package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// proto indexes counters by frontend.
type proto uint8

const (
	protoHTTP proto = iota
	protoUDP
	numProtos
)

var protoNames = [numProtos]string{"http", "udp"}

// counters are the server's event counts, updated without locks.
type counters struct {
	announces [numProtos]atomic.Uint64
	scrapes   [numProtos]atomic.Uint64
	connects  atomic.Uint64 // UDP connect requests answered
	rejected  [numProtos][numRejects]atomic.Uint64
	expired   atomic.Uint64 // peers removed for silence
	errors    atomic.Uint64 // socket read/write errors

	httpRefused [numHTTPRefusals]atomic.Uint64 // connections or requests cut off by the HTTP limits
	httpOpen    atomic.Int64                   // HTTP connections open now
}

func (c *counters) reject(p proto, r Reject) { c.rejected[p][r].Add(1) }

func (c *counters) refuseHTTP(r httpRefusal) { c.httpRefused[r].Add(1) }

// Stats is the JSON served at /stats.
type Stats struct {
	UptimeSeconds   float64                      `json:"uptime_seconds"`
	Swarms          int                          `json:"swarms"`
	Seeders         int                          `json:"seeders"`
	Leechers        int                          `json:"leechers"`
	Announces       map[string]uint64            `json:"announces"`
	Scrapes         map[string]uint64            `json:"scrapes"`
	UDPConnects     uint64                       `json:"udp_connects"`
	Rejected        map[string]map[string]uint64 `json:"rejected"` // by frontend, then reason
	ExpiredPeers    uint64                       `json:"expired_peers"`
	SocketErrors    uint64                       `json:"socket_errors"`
	HTTPRefused     map[string]uint64            `json:"http_refused"` // by reason: cut off by the HTTP limits
	HTTPConnections int64                        `json:"http_connections"`
	AllowListHashes int                          `json:"allow_list_hashes"` // -1 without an allow-list
}

// Stats returns the server's counters and the store's sizes.
func (s *Server) Stats(ctx context.Context) (Stats, error) {
	st := Stats{
		UptimeSeconds:   s.now().Sub(s.started).Seconds(),
		Announces:       map[string]uint64{},
		Scrapes:         map[string]uint64{},
		Rejected:        map[string]map[string]uint64{},
		UDPConnects:     s.counts.connects.Load(),
		ExpiredPeers:    s.counts.expired.Load(),
		SocketErrors:    s.counts.errors.Load(),
		HTTPRefused:     map[string]uint64{},
		HTTPConnections: s.counts.httpOpen.Load(),
		AllowListHashes: -1,
	}
	for r := range numHTTPRefusals {
		st.HTTPRefused[httpRefusalLabels[r]] = s.counts.httpRefused[r].Load()
	}
	if s.cfg.AllowList != nil {
		st.AllowListHashes = s.cfg.AllowList.Len()
	}
	for p := range numProtos {
		name := protoNames[p]
		st.Announces[name] = s.counts.announces[p].Load()
		st.Scrapes[name] = s.counts.scrapes[p].Load()
		st.Rejected[name] = map[string]uint64{}
		for r := RejectNone + 1; r < numRejects; r++ {
			st.Rejected[name][rejectLabels[r]] = s.counts.rejected[p][r].Load()
		}
	}
	ss, err := s.cfg.Store.Stats(ctx)
	if err != nil {
		return st, err
	}
	st.Swarms, st.Seeders, st.Leechers = ss.Swarms, ss.Seeders, ss.Leechers
	return st, nil
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// serveMetrics writes the Prometheus text exposition format (version
// 0.0.4) by hand: a few counters do not justify a client library.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, st)
}

func writeMetrics(w io.Writer, st Stats) {
	family := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("shoal_tracker_uptime_seconds", "gauge", "Seconds since the tracker started.")
	fmt.Fprintf(w, "shoal_tracker_uptime_seconds %g\n", st.UptimeSeconds)
	family("shoal_tracker_swarms", "gauge", "Torrents with at least one peer.")
	fmt.Fprintf(w, "shoal_tracker_swarms %d\n", st.Swarms)
	family("shoal_tracker_peers", "gauge", "Peers in all swarms, by state.")
	fmt.Fprintf(w, "shoal_tracker_peers{state=\"seeder\"} %d\n", st.Seeders)
	fmt.Fprintf(w, "shoal_tracker_peers{state=\"leecher\"} %d\n", st.Leechers)
	family("shoal_tracker_announces_total", "counter", "Announces answered, by frontend.")
	for _, p := range protoNames {
		fmt.Fprintf(w, "shoal_tracker_announces_total{proto=%q} %d\n", p, st.Announces[p])
	}
	family("shoal_tracker_scrapes_total", "counter", "Scrapes answered, by frontend.")
	for _, p := range protoNames {
		fmt.Fprintf(w, "shoal_tracker_scrapes_total{proto=%q} %d\n", p, st.Scrapes[p])
	}
	family("shoal_tracker_udp_connects_total", "counter", "UDP connect requests answered.")
	fmt.Fprintf(w, "shoal_tracker_udp_connects_total %d\n", st.UDPConnects)
	family("shoal_tracker_rejected_total", "counter", "Requests refused or dropped, by frontend and reason.")
	for _, p := range protoNames {
		for r := RejectNone + 1; r < numRejects; r++ {
			fmt.Fprintf(w, "shoal_tracker_rejected_total{proto=%q,reason=%q} %d\n", p, rejectLabels[r], st.Rejected[p][rejectLabels[r]])
		}
	}
	family("shoal_tracker_http_refused_total", "counter", "HTTP connections or requests cut off by the frontend's limits, by reason.")
	for _, r := range httpRefusalLabels {
		fmt.Fprintf(w, "shoal_tracker_http_refused_total{reason=%q} %d\n", r, st.HTTPRefused[r])
	}
	family("shoal_tracker_http_connections", "gauge", "HTTP connections open.")
	fmt.Fprintf(w, "shoal_tracker_http_connections %d\n", st.HTTPConnections)
	family("shoal_tracker_expired_peers_total", "counter", "Peers removed after missing two announce intervals.")
	fmt.Fprintf(w, "shoal_tracker_expired_peers_total %d\n", st.ExpiredPeers)
	family("shoal_tracker_socket_errors_total", "counter", "Socket read and write errors.")
	fmt.Fprintf(w, "shoal_tracker_socket_errors_total %d\n", st.SocketErrors)
	family("shoal_tracker_allow_list_hashes", "gauge", "Info hashes on the allow-list (-1: no allow-list).")
	fmt.Fprintf(w, "shoal_tracker_allow_list_hashes %d\n", st.AllowListHashes)
}

// sinceSeconds is d in whole seconds, at least 1.
func sinceSeconds(d time.Duration) int64 { return max(1, int64(d/time.Second)) }
