package server

import (
	"strconv"

	"shoal/metainfo"
)

// The HTTP answers are written by hand rather than through package bencode:
// they are a handful of fixed keys (which must appear sorted, BEP 3), and
// this is the tracker's hottest path.

func appendBString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendBBytes(b, s []byte) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendBInt(b []byte, n int64) []byte {
	b = append(b, 'i')
	b = strconv.AppendInt(b, n, 10)
	return append(b, 'e')
}

// appendFailure writes a BEP 3 failure response.
func appendFailure(b []byte, reason string) []byte {
	b = append(b, "d14:failure reason"...)
	b = appendBString(b, reason)
	return append(b, 'e')
}

// announceReply is what an HTTP announce answer needs.
type announceReply struct {
	interval, minInterval int64 // seconds
	counts                SwarmCounts
	peers                 []Peer
	compact               bool
}

// appendAnnounce writes an announce answer: with compact, IPv4 peers as 6
// bytes each under "peers" (BEP 23) and IPv6 peers as 18 bytes each under
// "peers6" (BEP 7); otherwise a list of dictionaries under "peers".
func appendAnnounce(b []byte, r *announceReply) []byte {
	b = append(b, "d8:completei"...)
	b = strconv.AppendInt(b, int64(r.counts.Complete), 10)
	b = append(b, "e10:incompletei"...)
	b = strconv.AppendInt(b, int64(r.counts.Incomplete), 10)
	b = append(b, "e8:intervali"...)
	b = strconv.AppendInt(b, r.interval, 10)
	b = append(b, "e12:min intervali"...)
	b = strconv.AppendInt(b, r.minInterval, 10)
	b = append(b, "e5:peers"...)
	if !r.compact {
		b = append(b, 'l')
		for _, p := range r.peers {
			b = append(b, "d2:ip"...)
			b = appendBString(b, p.Addr.Addr().String())
			b = append(b, "4:port"...)
			b = appendBInt(b, int64(p.Addr.Port()))
			b = append(b, 'e')
		}
		return append(b, "ee"...)
	}
	n4, n6 := 0, 0
	for _, p := range r.peers {
		if p.Addr.Addr().Is4() {
			n4++
		} else {
			n6++
		}
	}
	b = strconv.AppendInt(b, int64(6*n4), 10)
	b = append(b, ':')
	for _, p := range r.peers {
		if a := p.Addr.Addr(); a.Is4() {
			b = appendCompact(b, p)
		}
	}
	if n6 > 0 {
		b = append(b, "6:peers6"...)
		b = strconv.AppendInt(b, int64(18*n6), 10)
		b = append(b, ':')
		for _, p := range r.peers {
			if !p.Addr.Addr().Is4() {
				b = appendCompact(b, p)
			}
		}
	}
	return append(b, 'e')
}

// appendCompact writes a peer's address in network byte order followed by
// its port: 6 bytes for IPv4, 18 for IPv6 (BEP 23, BEP 7, BEP 15).
func appendCompact(b []byte, p Peer) []byte {
	a := p.Addr.Addr()
	if a.Is4() {
		ip := a.As4()
		b = append(b, ip[:]...)
	} else {
		ip := a.As16()
		b = append(b, ip[:]...)
	}
	port := p.Addr.Port()
	return append(b, byte(port>>8), byte(port))
}

// appendScrape writes a BEP 48 scrape answer. Keys of "files" must be
// sorted, so hashes must be sorted and without duplicates.
func appendScrape(b []byte, hashes []metainfo.InfoHash, counts []SwarmCounts) []byte {
	b = append(b, "d5:filesd"...)
	for i, ih := range hashes {
		b = appendBBytes(b, ih[:])
		b = append(b, "d8:completei"...)
		b = strconv.AppendInt(b, int64(counts[i].Complete), 10)
		b = append(b, "e10:downloadedi"...)
		b = strconv.AppendInt(b, int64(counts[i].Downloaded), 10)
		b = append(b, "e10:incompletei"...)
		b = strconv.AppendInt(b, int64(counts[i].Incomplete), 10)
		b = append(b, "ee"...)
	}
	return append(b, "ee"...)
}
