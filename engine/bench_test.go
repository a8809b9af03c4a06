package engine

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkTransfer moves a 256 MiB torrent from one session to another
// over loopback, in one process; run with -cpuprofile to see where a
// transfer spends its time (bench/ compares whole processes with
// libtorrent).
func BenchmarkTransfer(b *testing.B) {
	fx := makeFixture(b, 1<<20, 256<<20)
	seeder, err := NewSession(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer seeder.Close()
	st, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		b.Fatal(err)
	}
	<-st.Complete()
	b.SetBytes(fx.mi.Info.TotalLength())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		leecher, err := NewSession(Config{ListenAddr: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: b.TempDir(), Peers: []netip.AddrPort{addrOfSession(seeder)}})
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-tor.Complete():
		case <-time.After(2 * time.Minute):
			b.Fatal("transfer did not complete")
		}
		leecher.Close()
	}
}

func addrOfSession(s *Session) netip.AddrPort {
	return netip.MustParseAddrPort(s.Addr().String())
}
