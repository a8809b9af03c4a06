package dht

import (
	"net/netip"
	"time"

	"shoal/dht/krpc"
)

// handleQuery answers one query from src; size is the query's length in
// bytes, the base of the amplification bound.
func (n *Node) handleQuery(m *krpc.Msg, decodeErr error, src netip.AddrPort, size int) {
	n.stats.queriesIn.Add(1)
	if n.cfg.ReadOnly {
		// BEP 43: a read-only node does not answer queries at all.
		n.stats.dropped.Add(1)
		return
	}
	now := time.Now()
	if !n.sources.allow(src.Addr(), now) {
		n.stats.dropped.Add(1)
		return
	}
	if decodeErr != nil {
		if m.T == "" {
			n.stats.malformed.Add(1)
			return
		}
		n.replyError(src, m.T, krpc.ErrProtocol, "malformed query", size)
		return
	}
	a := m.A
	id := ID(a.ID)
	if id == (ID{}) {
		n.replyError(src, m.T, krpc.ErrProtocol, `missing "id"`, size)
		return
	}
	r := &krpc.Return{ID: n.id}
	proven := false // the query shows it can receive at src (a valid token)
	switch m.Q {
	case krpc.MethodPing:
	case krpc.MethodFindNode:
		if a.Target == nil {
			n.replyError(src, m.T, krpc.ErrProtocol, `find_node without "target"`, size)
			return
		}
		n.addNodes(r, *a.Target, a, now)
	case krpc.MethodGetPeers:
		if a.InfoHash == nil {
			n.replyError(src, m.T, krpc.ErrProtocol, `get_peers without "info_hash"`, size)
			return
		}
		proven = a.Token != "" && n.tokens.valid(a.Token, src.Addr())
		n.answerGetPeers(r, *a.InfoHash, a, src, now)
	case krpc.MethodAnnouncePeer:
		if code, msg := n.answerAnnounce(a, src, now); code != 0 {
			n.replyError(src, m.T, code, msg, size)
			return
		}
		proven = true
	case krpc.MethodSampleInfohashes:
		if a.Target == nil {
			n.replyError(src, m.T, krpc.ErrProtocol, `sample_infohashes without "target"`, size)
			return
		}
		n.addNodes(r, *a.Target, a, now)
		samples, num := n.store.sample(krpc.MaxSamples, now)
		interval := sampleInterval
		s := krpc.Samples(samples)
		r.Interval, r.Num, r.Samples = &interval, &num, &s
	default:
		n.replyError(src, m.T, krpc.ErrMethod, "method unknown", size)
		return
	}
	// An unknown querier is worth a ping: if it answers it enters the
	// table. BEP 43: a read-only sender stays out of our table.
	ping := m.RO != 1 && n.table.onQuery(id, src, now)
	limit := MaxReplySize
	if !proven {
		limit = min(limit, AmplificationFactor*size)
		if ping {
			// The ping goes to the same unproven address: it counts
			// against the same bound.
			limit -= n.pingSize
		}
	}
	n.reply(src, &krpc.Msg{T: m.T, Y: krpc.KindResponse, R: r}, limit)
	if ping {
		n.pingAsync(src, nil)
	}
}

// addNodes fills "nodes" and/or "nodes6" with the K closest nodes to
// target, as "want" asks (BEP 32); the table holds only our family, so a
// request for the other family gets nothing for it.
func (n *Node) addNodes(r *krpc.Return, target [20]byte, a *krpc.Args, now time.Time) {
	v4, v6 := a.WantsNodes(n.v6)
	if n.v6 && !v6 || !n.v6 && !v4 {
		return
	}
	var list []krpc.NodeInfo
	for _, c := range n.table.closest(target, bucketSize, now) {
		list = append(list, krpc.NodeInfo{ID: c.ID, Addr: c.Addr})
	}
	if n.v6 {
		r.Nodes6 = list
	} else {
		r.Nodes = list
	}
}

// answerGetPeers fills a get_peers reply: a token for the requester, the
// peers we store (of the query's family, BEP 32), the closest nodes, and
// with scrape=1 the BEP 33 bloom filters.
func (n *Node) answerGetPeers(r *krpc.Return, ih [20]byte, a *krpc.Args, src netip.AddrPort, now time.Time) {
	r.Token = n.tokens.make(src.Addr())
	r.Values = n.store.get(ih, krpc.MaxValues, src.Addr().Is6(), a.NoSeed == 1, now)
	n.addNodes(r, ih, a, now)
	if a.Scrape == 1 {
		if seeds, peers, ok := n.store.bloom(ih, now); ok {
			sd, pe := [krpc.BloomLen]byte(*seeds), [krpc.BloomLen]byte(*peers)
			r.BFsd, r.BFpe = &sd, &pe
		}
	}
}

// answerAnnounce checks and stores an announce_peer; it returns an error
// code and text, or 0.
func (n *Node) answerAnnounce(a *krpc.Args, src netip.AddrPort, now time.Time) (int, string) {
	if a.InfoHash == nil {
		return krpc.ErrProtocol, `announce_peer without "info_hash"`
	}
	if !n.tokens.valid(a.Token, src.Addr()) {
		n.stats.badTokens.Add(1)
		return krpc.ErrProtocol, "bad token"
	}
	port := a.Port
	if a.ImpliedPort != 0 {
		port = int(src.Port()) // BEP 5: use the UDP source port
	}
	if port <= 0 || port > 65535 {
		return krpc.ErrProtocol, "invalid port"
	}
	if !n.store.add(*a.InfoHash, netip.AddrPortFrom(src.Addr(), uint16(port)), a.Seed == 1, now) {
		return krpc.ErrGeneric, "peer store full"
	}
	return 0, ""
}

// replyError sends an error message (BEP 5) within the amplification
// bound.
func (n *Node) replyError(to netip.AddrPort, tid string, code int, text string, querySize int) {
	m := &krpc.Msg{T: tid, Y: krpc.KindError, E: &krpc.Error{Code: code, Msg: text}}
	n.reply(to, m, min(MaxReplySize, AmplificationFactor*querySize))
}

// reply adds the fields every reply carries ("ip" of BEP 42, "v"), trims
// it to limit bytes and sends it. A reply that cannot be made to fit is not
// sent.
func (n *Node) reply(to netip.AddrPort, m *krpc.Msg, limit int) {
	m.IP = krpc.Addr{AddrPort: to}
	m.V = n.cfg.Version
	b, trimmed := encodeWithin(m, limit)
	if trimmed {
		n.stats.trimmed.Add(1)
	}
	if b == nil {
		n.stats.dropped.Add(1)
		return
	}
	if m.Y == krpc.KindError {
		n.stats.errorsOut.Add(1)
	} else {
		n.stats.repliesOut.Add(1)
	}
	if err := n.write(to, b); err != nil {
		n.log.Debug("dht: reply", "to", to, "err", err)
	}
}

// keptValues is how many get_peers values or BEP 51 samples a trimmed
// reply keeps before it gives up nodes: they are what was asked for.
const keptValues = 8

// encodeWithin encodes m, dropping what a reply can do without until it
// fits in limit bytes: first the bloom filters, then values and samples
// beyond keptValues, then nodes, then the rest. It returns nil if even
// the bare reply is too large.
func encodeWithin(m *krpc.Msg, limit int) (b []byte, trimmed bool) {
	for {
		var err error
		b, err = m.Encode()
		if err != nil {
			return nil, trimmed
		}
		over := len(b) - limit
		r := m.R
		if over <= 0 {
			return b, trimmed
		}
		if r == nil {
			return nil, trimmed
		}
		trimmed = true
		switch {
		case r.BFsd != nil || r.BFpe != nil:
			r.BFsd, r.BFpe = nil, nil
		case len(r.Values) > keptValues:
			r.Values = r.Values[:max(keptValues, len(r.Values)-ceilDiv(over, valueSize(r.Values)))]
		case r.Samples != nil && len(*r.Samples) > keptValues:
			s := (*r.Samples)[:max(keptValues, len(*r.Samples)-ceilDiv(over, 20))]
			r.Samples = &s
		case len(r.Nodes6) > 0:
			r.Nodes6 = r.Nodes6[:max(0, len(r.Nodes6)-ceilDiv(over, krpc.CompactNodeLen6))]
		case len(r.Nodes) > 0:
			r.Nodes = r.Nodes[:max(0, len(r.Nodes)-ceilDiv(over, krpc.CompactNodeLen4))]
		case len(r.Values) > 0:
			r.Values = r.Values[:max(0, len(r.Values)-ceilDiv(over, valueSize(r.Values)))]
		case r.Samples != nil && len(*r.Samples) > 0:
			s := (*r.Samples)[:max(0, len(*r.Samples)-ceilDiv(over, 20))]
			r.Samples = &s
		default:
			return nil, trimmed
		}
	}
}

// valueSize is the encoded size of one entry of vs, all of one family:
// "6:" and 6 bytes, or "18:" and 18.
func valueSize(vs krpc.Values) int {
	if vs[0].Addr().Is6() {
		return 3 + krpc.CompactAddrLen6
	}
	return 2 + krpc.CompactAddrLen4
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
