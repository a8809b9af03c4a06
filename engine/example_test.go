package engine_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"shoal/engine"
	"shoal/metainfo"
)

// Example seeds a file from one session and downloads it with another,
// both on the loopback interface.
func Example() {
	dir, _ := os.MkdirTemp("", "shoal-example")
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "seed", "hello.txt")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, []byte("Hello from a BitTorrent swarm of two.\n"), 0o644)

	// Make the torrent, as `shoal create` does.
	mi, err := metainfo.Build(context.Background(), src, metainfo.BuildOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	seeder, _ := engine.NewSession(engine.Config{ListenAddr: "127.0.0.1:0"})
	defer seeder.Close()
	seeder.AddTorrent(mi, engine.AddOptions{SavePath: filepath.Dir(src)})

	leecher, _ := engine.NewSession(engine.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "state")})
	defer leecher.Close()
	seederAddr := netip.MustParseAddrPort(seeder.Addr().String())
	tor, _ := leecher.AddTorrent(mi, engine.AddOptions{
		SavePath: filepath.Join(dir, "downloads"),
		Peers:    []netip.AddrPort{seederAddr},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tor.WaitComplete(ctx); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := os.ReadFile(filepath.Join(dir, "downloads", "hello.txt"))
	fmt.Print(string(got))
	st := tor.Stats()
	fmt.Println(st.State, st.Progress, st.Downloaded)
	// Output:
	// Hello from a BitTorrent swarm of two.
	// seeding 1 38
}
