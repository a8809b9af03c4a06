package server

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"shoal/metainfo"
)

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.failHTTP(w, RejectMethod)
		return
	}
	q, err := parseAnnounceQuery(r.URL.RawQuery)
	if err != nil {
		s.failHTTP(w, asReject(err))
		return
	}
	ip, ok := s.clientIP(r)
	if !ok {
		s.failHTTP(w, RejectMalformed)
		return
	}
	req := AnnounceRequest{
		InfoHash: q.InfoHash,
		PeerID:   q.PeerID,
		Addr:     peerAddr(ip, q.Port),
		Left:     q.Left,
		Event:    q.Event,
		NumWant:  q.NumWant,
		Families: FamilyBoth,
		Time:     s.now(),
	}
	if !s.allowed(&req) {
		s.failHTTP(w, RejectNotAllowed)
		return
	}
	bufp := s.peerBuf.Get().(*[]Peer)
	defer s.peerBuf.Put(bufp)
	res, err := s.cfg.Store.Announce(r.Context(), &req, *bufp)
	if err != nil {
		s.cfg.Logger.Error("tracker: store announce", "err", err)
		s.failHTTP(w, RejectStore)
		return
	}
	*bufp = res.Peers[:0]
	s.counts.announces[protoHTTP].Add(1)
	reply := announceReply{
		interval:    sinceSeconds(s.cfg.Interval),
		minInterval: sinceSeconds(s.cfg.MinInterval),
		counts:      res.Counts,
		peers:       res.Peers,
		compact:     q.Compact,
	}
	writeBencode(w, appendAnnounce(make([]byte, 0, 128+len(res.Peers)*8), &reply))
}

func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.failHTTP(w, RejectMethod)
		return
	}
	hashes, err := parseScrapeQuery(r.URL.RawQuery)
	if err != nil {
		s.failHTTP(w, asReject(err))
		return
	}
	// The files dictionary's keys must be sorted and unique (BEP 3).
	slices.SortFunc(hashes, func(a, b metainfo.InfoHash) int { return strings.Compare(string(a[:]), string(b[:])) })
	hashes = slices.Compact(hashes)
	counts := make([]SwarmCounts, len(hashes))
	kept := hashes[:0]
	for _, ih := range hashes {
		// A hash off the allow-list is left out rather than failing the
		// whole scrape, as if the tracker had never heard of it.
		if !s.cfg.AllowList.Allowed(ih) {
			continue
		}
		c, err := s.cfg.Store.Scrape(r.Context(), ih)
		if err != nil {
			s.cfg.Logger.Error("tracker: store scrape", "err", err)
			s.failHTTP(w, RejectStore)
			return
		}
		counts[len(kept)] = c
		kept = append(kept, ih)
	}
	s.counts.scrapes[protoHTTP].Add(1)
	writeBencode(w, appendScrape(nil, kept, counts))
}

// failHTTP answers with a bencoded failure reason. The status is 200: BEP 3
// clients look for "failure reason" in the body, and some ignore the body
// of any other status.
func (s *Server) failHTTP(w http.ResponseWriter, r Reject) {
	s.counts.reject(protoHTTP, r)
	writeBencode(w, appendFailure(nil, r.String()))
}

func writeBencode(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	w.Write(body)
}

// asReject maps a parse error to its reason.
func asReject(err error) Reject {
	if r, ok := err.(Reject); ok {
		return r
	}
	return RejectMalformed
}

// clientIP is the announcing peer's address: the socket's, or the last
// address in the proxy header when the socket belongs to a trusted proxy.
func (s *Server) clientIP(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	if s.cfg.ProxyHeader == "" || !s.trustedProxy(ip) {
		return ip, true
	}
	values := r.Header.Values(s.cfg.ProxyHeader)
	if len(values) == 0 {
		return ip, true
	}
	// X-Forwarded-For grows to the right; the trusted proxy appended the
	// address it saw last, and everything left of it is the client's word.
	list := values[len(values)-1]
	if i := strings.LastIndexByte(list, ','); i >= 0 {
		list = list[i+1:]
	}
	fwd, err := netip.ParseAddr(strings.TrimSpace(list))
	if err != nil {
		return netip.Addr{}, false
	}
	return fwd.Unmap(), true
}

func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
