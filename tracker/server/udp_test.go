package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"shoal/metainfo"
)

func connectPacket(tid uint32) []byte {
	p := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	p = binary.BigEndian.AppendUint32(p, udpActionConnect)
	return binary.BigEndian.AppendUint32(p, tid)
}

func announcePacket(connID uint64, tid uint32, ih metainfo.InfoHash, id PeerID, left uint64, event uint32, numWant int32, port uint16) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, udpActionAnnounce)
	p = binary.BigEndian.AppendUint32(p, tid)
	p = append(p, ih[:]...)
	p = append(p, id[:]...)
	p = binary.BigEndian.AppendUint64(p, 0) // downloaded
	p = binary.BigEndian.AppendUint64(p, left)
	p = binary.BigEndian.AppendUint64(p, 0) // uploaded
	p = binary.BigEndian.AppendUint32(p, event)
	p = binary.BigEndian.AppendUint32(p, 0) // ip
	p = binary.BigEndian.AppendUint32(p, 7) // key
	p = binary.BigEndian.AppendUint32(p, uint32(numWant))
	return binary.BigEndian.AppendUint16(p, port)
}

func scrapePacket(connID uint64, tid uint32, hashes ...metainfo.InfoHash) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, udpActionScrape)
	p = binary.BigEndian.AppendUint32(p, tid)
	for _, ih := range hashes {
		p = append(p, ih[:]...)
	}
	return p
}

// udpExchange handles p as if from addr and returns a copy of the answer.
func udpExchange(h *udpHandler, p []byte, from string) []byte {
	out := h.handle(context.Background(), p, netip.MustParseAddrPort(from))
	if out == nil {
		return nil
	}
	return append([]byte(nil), out...)
}

func udpConnect(t *testing.T, h *udpHandler, from string) uint64 {
	t.Helper()
	out := udpExchange(h, connectPacket(0x1234), from)
	if len(out) != 16 || binary.BigEndian.Uint32(out) != udpActionConnect || binary.BigEndian.Uint32(out[4:]) != 0x1234 {
		t.Fatalf("connect answer %x", out)
	}
	return binary.BigEndian.Uint64(out[8:])
}

func TestUDPAnnounceAndScrape(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newTestServer(t, Config{Interval: 5 * time.Minute, Now: func() time.Time { return now }})
	h := s.newUDPHandler()
	ih := testHash(9)
	seeder, leecher := "10.0.0.1:5000", "10.0.0.2:5001"

	cid := udpConnect(t, h, seeder)
	out := udpExchange(h, announcePacket(cid, 77, ih, testPeerID(1), 0, uint32(EventStarted), -1, 6881), seeder)
	if len(out) != 20 || binary.BigEndian.Uint32(out) != udpActionAnnounce || binary.BigEndian.Uint32(out[4:]) != 77 ||
		binary.BigEndian.Uint32(out[8:]) != 300 || binary.BigEndian.Uint32(out[12:]) != 0 || binary.BigEndian.Uint32(out[16:]) != 1 {
		t.Fatalf("seeder's announce answer %x", out)
	}

	cid2 := udpConnect(t, h, leecher)
	// BEP 41 options after the fixed fields are tolerated.
	pkt := append(announcePacket(cid2, 78, ih, testPeerID(2), 100, uint32(EventStarted), 50, 6882), 2, 9, '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e', 0)
	out = udpExchange(h, pkt, leecher)
	if len(out) != 26 || string(out[20:]) != string([]byte{10, 0, 0, 1, 0x1a, 0xe1}) {
		t.Fatalf("leecher's announce answer %x, want the seeder 10.0.0.1:6881", out)
	}

	out = udpExchange(h, scrapePacket(cid2, 79, ih, testHash(10)), leecher)
	want := []uint32{udpActionScrape, 79, 1, 0, 1, 0, 0, 0}
	for i, w := range want {
		if len(out) != 4*len(want) || binary.BigEndian.Uint32(out[4*i:]) != w {
			t.Fatalf("scrape answer %x, want words %v", out, want)
		}
	}

	// A connection id is bound to the address it was issued to.
	if out := udpExchange(h, announcePacket(cid, 80, ih, testPeerID(3), 0, 0, 1, 1), leecher); out != nil {
		t.Fatalf("announce with another address's connection id answered %x", out)
	}
	// It stays valid for at least one minute and dies within two.
	now = now.Add(61 * time.Second)
	if out := udpExchange(h, announcePacket(cid, 81, ih, testPeerID(1), 0, 0, 1, 6881), seeder); out == nil {
		t.Fatal("connection id rejected after 61 s")
	}
	now = now.Add(60 * time.Second)
	if out := udpExchange(h, announcePacket(cid, 82, ih, testPeerID(1), 0, 0, 1, 6881), seeder); out != nil {
		t.Fatalf("connection id accepted after 121 s: %x", out)
	}
	if n := s.counts.rejected[protoUDP][RejectBadConnID].Load(); n != 2 {
		t.Fatalf("bad connection ids counted %d, want 2", n)
	}
	// A second handler (another reader goroutine) accepts the first's ids.
	cid = udpConnect(t, h, seeder)
	if out := udpExchange(s.newUDPHandler(), announcePacket(cid, 83, ih, testPeerID(1), 0, 0, 1, 6881), seeder); out == nil {
		t.Fatal("connection id from one reader rejected by another")
	}
}

func TestUDPErrors(t *testing.T) {
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow")
	os.WriteFile(allow, []byte(testHash(1).String()+"\n"), 0o644)
	al, err := LoadAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{AllowList: al})
	h := s.newUDPHandler()
	from := "10.0.0.5:4000"
	cid := udpConnect(t, h, from)
	tests := []struct {
		name   string
		packet []byte
		want   Reject
		answer bool // an error packet, rather than silence
	}{
		{"short", []byte{1, 2, 3}, RejectShortPacket, false},
		{"connect without protocol id", append(make([]byte, 8), 0, 0, 0, 0, 0, 0, 0, 1), RejectMalformed, false},
		{"bad connection id", announcePacket(cid^1, 1, testHash(1), testPeerID(1), 0, 0, 1, 1), RejectBadConnID, false},
		{"short announce", announcePacket(cid, 1, testHash(1), testPeerID(1), 0, 0, 1, 1)[:97], RejectShortPacket, true},
		{"unknown action", append(binary.BigEndian.AppendUint64(nil, cid), 0, 0, 0, 9, 0, 0, 0, 1), RejectUnknownAction, true},
		{"bad event", announcePacket(cid, 1, testHash(1), testPeerID(1), 0, 4, 1, 1), RejectEvent, true},
		{"port zero", announcePacket(cid, 1, testHash(1), testPeerID(1), 0, 0, 1, 0), RejectPort, true},
		{"negative left", announcePacket(cid, 1, testHash(1), testPeerID(1), 1<<63, 0, 1, 1), RejectNumber, true},
		{"not allowed", announcePacket(cid, 1, testHash(2), testPeerID(1), 0, 0, 1, 1), RejectNotAllowed, true},
		{"scrape of no hash", scrapePacket(cid, 1), RejectInfoHash, true},
		{"scrape of a partial hash", append(scrapePacket(cid, 1, testHash(1)), 1), RejectInfoHash, true},
		{"scrape of too many", scrapePacket(cid, 1, make([]metainfo.InfoHash, maxScrapeHashes+1)...), RejectTooManyHashes, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.counts.rejected[protoUDP][tc.want].Load()
			out := udpExchange(h, tc.packet, from)
			if s.counts.rejected[protoUDP][tc.want].Load() != before+1 {
				t.Fatalf("rejection %q not counted", rejectLabels[tc.want])
			}
			if !tc.answer {
				if out != nil {
					t.Fatalf("answered %x, want silence", out)
				}
				return
			}
			if len(out) < 8 || binary.BigEndian.Uint32(out) != udpActionError || string(out[8:]) != tc.want.String() {
				t.Fatalf("answer %q, want an error packet saying %q", out, tc.want)
			}
		})
	}
}

func TestUDPIPv6Peers(t *testing.T) {
	s := newTestServer(t, Config{})
	h := s.newUDPHandler()
	ih := testHash(3)
	a, b, c := "[2001:db8::1]:100", "[2001:db8::2]:100", "10.0.0.1:100"
	for i, from := range []string{a, c} {
		cid := udpConnect(t, h, from)
		udpExchange(h, announcePacket(cid, 1, ih, testPeerID(byte(i)), 0, 0, 10, 7000), from)
	}
	cid := udpConnect(t, h, b)
	out := udpExchange(h, announcePacket(cid, 1, ih, testPeerID(9), 5, 0, 10, 7000), b)
	ip := netip.MustParseAddr("2001:db8::1").As16()
	if len(out) != 20+18 || string(out[20:36]) != string(ip[:]) {
		t.Fatalf("IPv6 announce answer %x, want only the IPv6 peer in 18 bytes", out)
	}
}

// TestServeUDPSocket runs the real socket loop end to end.
func TestServeUDPSocket(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{UDPReaders: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, nil, conn) }()
	client, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	client.Write(connectPacket(5))
	buf := make([]byte, 1500)
	n, err := client.Read(buf)
	if err != nil || n != 16 {
		t.Fatalf("connect: %d bytes, %v", n, err)
	}
	cid := binary.BigEndian.Uint64(buf[8:])
	client.Write(announcePacket(cid, 6, testHash(1), testPeerID(1), 0, 2, -1, 9000))
	n, err = client.Read(buf)
	if err != nil || n != 20 || binary.BigEndian.Uint32(buf[4:]) != 6 {
		t.Fatalf("announce: %x, %v", buf[:n], err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after cancel", err)
	}
}

// TestServeUDPBurst sends bursts from several sockets, over IPv4 and IPv6
// loopback, so that the reader batches packets: every request must be
// answered, to its sender, with its transaction id.
func TestServeUDPBurst(t *testing.T) {
	for _, network := range []struct{ name, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(network.name, func(t *testing.T) {
			ua, _ := net.ResolveUDPAddr(network.name, network.addr)
			conn, err := net.ListenUDP(network.name, ua)
			if err != nil {
				t.Skipf("no %s loopback here: %v", network.name, err)
			}
			s := newTestServer(t, Config{UDPReaders: 2})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, nil, conn) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			const clients, burst = 4, 50
			errC := make(chan error, clients)
			for c := range clients {
				go func() {
					cl, err := net.DialUDP(network.name, nil, conn.LocalAddr().(*net.UDPAddr))
					if err != nil {
						errC <- err
						return
					}
					defer cl.Close()
					cl.SetReadBuffer(1 << 20)
					for i := range burst {
						cl.Write(connectPacket(uint32(c<<16 | i)))
					}
					seen := map[uint32]bool{}
					buf := make([]byte, 1500)
					cl.SetReadDeadline(time.Now().Add(10 * time.Second))
					for len(seen) < burst {
						n, err := cl.Read(buf)
						if err != nil {
							errC <- fmt.Errorf("client %d: %d of %d answers: %v", c, len(seen), burst, err)
							return
						}
						tid := binary.BigEndian.Uint32(buf[4:])
						if n != 16 || int(tid>>16) != c {
							errC <- fmt.Errorf("client %d got answer %x", c, buf[:n])
							return
						}
						seen[tid] = true
					}
					errC <- nil
				}()
			}
			for range clients {
				if err := <-errC; err != nil {
					t.Fatal(err)
				}
			}
			if got := s.counts.connects.Load(); got != clients*burst {
				t.Fatalf("server counted %d connects, want %d", got, clients*burst)
			}
		})
	}
}
