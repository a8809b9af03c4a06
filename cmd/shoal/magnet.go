package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"shoal/engine"
	"shoal/metainfo"
)

// isMagnet reports whether a command-line argument is a magnet link.
func isMagnet(arg string) bool {
	return strings.HasPrefix(strings.ToLower(arg), "magnet:")
}

// parseMagnetArg parses a magnet link given on the command line; it must
// name a v1 torrent, whose metadata peers can send (BEP 9).
func parseMagnetArg(arg string) (*metainfo.Magnet, error) {
	m, err := metainfo.ParseMagnet(arg)
	if err != nil {
		return nil, fmt.Errorf("invalid magnet link: %w", err)
	}
	if !m.HasV1 {
		return nil, errors.New("the magnet link names only a v2 torrent (urn:btmh): shoal handles v1 and hybrid torrents, give a link with urn:btih")
	}
	return m, nil
}

// magnetPeerAddrs returns the magnet's x.pe peers that are IP literals;
// the fetch resolves host names itself.
func magnetPeerAddrs(m *metainfo.Magnet) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range m.Peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	return out
}

// checkMagnetSources refuses a fetch that cannot find a single peer. Peers
// that connect to us join the fetch, but with no tracker, DHT, local
// discovery or peer to tell, none of them could learn our address.
func checkMagnetSources(m *metainfo.Magnet, f *sessionFlags, trackers []string) error {
	if len(m.Trackers)+len(m.Peers)+len(f.peers)+len(trackers) == 0 && f.noDHT && !f.lsd {
		return usagef("the magnet link names no tracker (tr) and no peer (x.pe), and --no-dht is given: " +
			"give --peer or --tracker, or let the DHT (or --lsd, on a local network) find peers")
	}
	return nil
}

// fetchMetadata gets a magnet link's metadata for get and info --fetch,
// showing its progress with sp.
func fetchMetadata(ctx context.Context, sess *engine.Session, m *metainfo.Magnet, opts engine.FetchOptions, sp *statusPrinter) (*metainfo.MetaInfo, error) {
	opts.Progress = func(p engine.FetchProgress) { sp.fetching(p, time.Now()) }
	mi, err := sess.FetchMetadata(ctx, m, opts)
	sp.done()
	if err != nil && ctx.Err() != nil {
		return nil, errors.New("interrupted while fetching the metadata")
	}
	return mi, err
}

// magnetDisplayName is what a magnet link is called until its metadata
// arrives: its dn, or its info hash.
func magnetDisplayName(m *metainfo.Magnet) string {
	if m.Name != "" {
		return m.Name
	}
	return m.InfoHash.String()
}

// fetchJSON is a --json status line while the metadata is being fetched.
type fetchJSON struct {
	State            string `json:"state"` // "fetching metadata"
	Peers            int    `json:"peers"`
	Known            int    `json:"known_peers"`
	DHTNodes         int    `json:"dht_nodes"`
	MetadataReceived int64  `json:"metadata_received"`
	MetadataSize     int64  `json:"metadata_size"`
}

// fetching shows the progress of a metadata fetch: the peers that offer
// it, the addresses known and the DHT's nodes, so that a fetch that finds
// nobody says why.
func (sp *statusPrinter) fetching(p engine.FetchProgress, now time.Time) {
	switch {
	case sp.asJSON:
		if now.Sub(sp.last) < time.Second {
			return
		}
		sp.last = now
		b, _ := json.Marshal(fetchJSON{State: "fetching metadata", Peers: p.Peers, Known: p.Known,
			DHTNodes: p.DHTNodes, MetadataReceived: p.Received, MetadataSize: p.Size})
		fmt.Fprintf(sp.w, "%s\n", b)
	case sp.terminal:
		fmt.Fprintf(sp.w, "\r\x1b[K%s", sp.fetchLine(p))
		sp.drawn = true
	default:
		if now.Sub(sp.last) < plainEvery {
			return
		}
		sp.last = now
		fmt.Fprintf(sp.w, "%s\n", sp.fetchLine(p))
	}
}

func (sp *statusPrinter) fetchLine(p engine.FetchProgress) string {
	s := fmt.Sprintf("%s  fetching metadata  peers %d  known %d  dht nodes %d",
		printable(sp.name), p.Peers, p.Known, p.DHTNodes)
	if p.Size > 0 {
		s += fmt.Sprintf("  %s / %s", formatSize(p.Received), formatSize(p.Size))
	}
	return s
}
