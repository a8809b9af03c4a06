package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"shoal/engine"
	"shoal/metainfo"
)

// Demo defaults: with every peer uploading at most 4 MiB/s, 32 MiB to 8
// leechers takes about 10 s when they share, against 64 s for one server
// sending each of them a copy, so the difference is plain to see.
const (
	defaultDemoPeers = 8
	defaultDemoSize  = 32 << 20
	defaultDemoRate  = 4 << 20
	maxDemoPeers     = 32
	maxDemoSize      = 1 << 30 // every peer keeps a copy in a temporary directory
	demoFileName     = "shoal-demo.bin"
)

// demoOptions holds the flags of "shoal demo".
type demoOptions struct {
	peers int
	size  string
	maxUp rateValue
}

func newDemoCommand() *cobra.Command {
	opts := demoOptions{maxUp: rateValue{defaultDemoRate}}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch a swarm share a file on this machine",
		Long: `Show BitTorrent at work with no setup: shoal makes a file of random data and
a torrent of it, starts one seeder and N leechers in this process on
127.0.0.1, shows each peer's progress live, checks every leecher's copy
against the original, and compares the time taken with what a single
server uploading at the same rate would have needed.

Every peer's upload is capped (--max-up), as a home connection's would be:
the leechers pass pieces on to each other, so together they get far more
than the seeder alone could send. Everything lives in a temporary directory
that is removed at the end.`,
		Example: `  shoal demo
  shoal demo --peers 16 --size 100M --max-up 2M`,
		Args: exactArgs(0, "none"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), &opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	flags.IntVar(&opts.peers, "peers", defaultDemoPeers, "number of leechers (`N`)")
	flags.StringVar(&opts.size, "size", formatSize(defaultDemoSize), "size of the shared file (`SIZE`: 500K, 64M, 1G)")
	flags.Var(&opts.maxUp, "max-up", "upload limit of every peer in bytes per second (`RATE`; 0: none)")
	return cmd
}

func runDemo(ctx context.Context, o *demoOptions, stdout, stderr io.Writer) error {
	size, err := parseSize(strings.ReplaceAll(o.size, " ", ""))
	switch {
	case err != nil:
		return usagef("--size: %v", err)
	case size < 1 || size > maxDemoSize:
		return usagef("--size %s: want 1 byte to %s", o.size, formatSize(maxDemoSize))
	case o.peers < 1 || o.peers > maxDemoPeers:
		return usagef("--peers %d: want 1 to %d", o.peers, maxDemoPeers)
	}
	dir, err := os.MkdirTemp("", "shoal-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(stderr, "making %s of random data and a torrent of it\n", formatSize(size))
	mi, err := makeDemoTorrent(ctx, filepath.Join(dir, "seeder"), size)
	if err != nil {
		return interruptedOr(ctx, err)
	}
	rate := o.maxUp.bytes
	limit := "no upload limit"
	if rate > 0 {
		limit = "each uploading at most " + formatRate(float64(rate))
	}
	fmt.Fprintf(stderr, "1 seeder and %d leechers on 127.0.0.1, %s\n", o.peers, limit)
	sw := &demoSwarm{dir: dir, mi: mi, rate: rate}
	defer sw.close()
	if err := sw.start(ctx, o.peers); err != nil {
		return interruptedOr(ctx, err)
	}
	elapsed, err := sw.wait(ctx, newDemoDisplay(stderr, isTerminal(stderr)))
	if err != nil {
		return interruptedOr(ctx, err)
	}
	if err := sw.verify(ctx); err != nil {
		return interruptedOr(ctx, err)
	}
	seederUp, peersUp := sw.uploads()
	sw.close()
	writeDemoSummary(stdout, o.peers, size, rate, elapsed, seederUp, peersUp)
	return nil
}

// interruptedOr names an interruption as such rather than by whatever
// error the cancelled operation returned.
func interruptedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("demo interrupted")
	}
	return err
}

// demoPieceLength gives a torrent of size bytes a few hundred pieces, so
// the leechers have pieces to trade early on.
func demoPieceLength(size int64) int64 {
	pl := int64(minPieceLength)
	for pl < 1<<20 && size > 256*pl {
		pl *= 2
	}
	return pl
}

// makeDemoTorrent writes size random bytes to dir/shoal-demo.bin and makes
// a torrent of the file.
func makeDemoTorrent(ctx context.Context, dir string, size int64) (*metainfo.MetaInfo, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, demoFileName)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var seed [32]byte
	for i := range 4 {
		v := rand.Uint64()
		for j := range 8 {
			seed[8*i+j] = byte(v >> (8 * j))
		}
	}
	src := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		chunk := buf[:min(left, int64(len(buf)))]
		src.Read(chunk)
		if _, err := f.Write(chunk); err != nil {
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return metainfo.Build(ctx, path, metainfo.BuildOptions{PieceLength: demoPieceLength(size), CreatedBy: "shoal demo"})
}

// demoPeer is one session of the demo swarm.
type demoPeer struct {
	name   string
	sess   *engine.Session
	tor    *engine.Torrent
	dir    string        // SavePath
	doneIn time.Duration // time to complete; 0 until then
}

// demoSwarm is the seeder (peers[0]) and the leechers.
type demoSwarm struct {
	dir   string
	mi    *metainfo.MetaInfo
	rate  int64
	peers []*demoPeer
	began time.Time
}

// add starts a session with the torrent saved under dir, told about addrs.
func (sw *demoSwarm) add(name, dir string, addrs []netip.AddrPort) (*demoPeer, error) {
	sess, err := engine.NewSession(engine.Config{ListenAddr: "127.0.0.1:0", UploadRate: sw.rate})
	if err != nil {
		return nil, err
	}
	p := &demoPeer{name: name, sess: sess, dir: dir}
	sw.peers = append(sw.peers, p)
	p.tor, err = sess.AddTorrent(sw.mi, engine.AddOptions{SavePath: dir, Peers: addrs})
	return p, err
}

// start starts the seeder, waits until it has checked its data, then starts
// the leechers, each told about the seeder and the leechers before it.
func (sw *demoSwarm) start(ctx context.Context, leechers int) error {
	seeder, err := sw.add("seeder", filepath.Join(sw.dir, "seeder"), nil)
	if err != nil {
		return err
	}
	if err := seeder.tor.WaitComplete(ctx); err != nil {
		return fmt.Errorf("seeder: %w", err)
	}
	addrs := []netip.AddrPort{sessionAddr(seeder.sess)}
	sw.began = time.Now()
	for i := 1; i <= leechers; i++ {
		dir := filepath.Join(sw.dir, fmt.Sprintf("peer%d", i))
		p, err := sw.add(fmt.Sprintf("peer %d", i), dir, append([]netip.AddrPort(nil), addrs...))
		if err != nil {
			return err
		}
		addrs = append(addrs, sessionAddr(p.sess))
	}
	return nil
}

// sessionAddr is the loopback address a demo session listens on.
func sessionAddr(s *engine.Session) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(s.Addr().String()) // a *net.TCPAddr always parses
	return ap
}

// wait shows progress until every leecher is complete and returns the time
// the last one took.
func (sw *demoSwarm) wait(ctx context.Context, d *demoDisplay) (time.Duration, error) {
	// Completion is timed as it happens, not at the display's next tick.
	doneC := make(chan *demoPeer, len(sw.peers))
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, p := range sw.peers[1:] {
		go func() {
			select {
			case <-p.tor.Complete():
				doneC <- p
			case <-waitCtx.Done():
			}
		}()
	}
	tick := time.NewTicker(d.every())
	defer tick.Stop()
	var took time.Duration
	for left := len(sw.peers) - 1; ; {
		stats := make([]engine.Stats, len(sw.peers))
		for i, p := range sw.peers {
			stats[i] = p.tor.Stats()
			if stats[i].State == engine.StateError {
				d.end()
				return 0, fmt.Errorf("%s: %w", p.name, stats[i].Err)
			}
		}
		d.show(sw.peers, stats, time.Since(sw.began), left == 0)
		if left == 0 {
			return took, nil
		}
		select {
		case <-ctx.Done():
			d.end()
			return 0, ctx.Err()
		case p := <-doneC:
			p.doneIn = time.Since(sw.began)
			took = max(took, p.doneIn)
			left--
		case <-tick.C:
		}
	}
}

// verify compares every leecher's copy with the seeder's, byte for byte.
func (sw *demoSwarm) verify(ctx context.Context) error {
	orig := filepath.Join(sw.peers[0].dir, demoFileName)
	for _, p := range sw.peers[1:] {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := sameFile(orig, filepath.Join(p.dir, demoFileName)); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// sameFile reports how the file at b differs from the one at a, if it does.
func sameFile(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	bufA, bufB := make([]byte, 64<<10), make([]byte, 64<<10)
	var off int64
	for {
		na, errA := io.ReadFull(ra, bufA)
		nb, errB := io.ReadFull(rb, bufB)
		if !bytes.Equal(bufA[:na], bufB[:nb]) {
			return fmt.Errorf("the copy differs from the original near byte %d", off)
		}
		off += int64(na)
		endA, endB := isEOF(errA), isEOF(errB)
		switch {
		case errA != nil && !endA:
			return errA
		case errB != nil && !endB:
			return errB
		case endA || endB:
			return nil
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// uploads returns what the seeder uploaded and what the leechers uploaded
// to each other.
func (sw *demoSwarm) uploads() (seeder, peers int64) {
	for i, p := range sw.peers {
		up := p.tor.Stats().Uploaded
		if i == 0 {
			seeder = up
		} else {
			peers += up
		}
	}
	return seeder, peers
}

// close stops every session; it may be called more than once.
func (sw *demoSwarm) close() {
	for _, p := range sw.peers {
		p.sess.Close()
	}
}

// demoDisplay shows the swarm: one line per peer, redrawn in place on a
// terminal, or printed every few seconds otherwise.
type demoDisplay struct {
	w        io.Writer
	terminal bool
	drawn    int       // lines on screen from the last redraw
	last     time.Time // last plain print
}

func newDemoDisplay(w io.Writer, terminal bool) *demoDisplay {
	return &demoDisplay{w: w, terminal: terminal, last: time.Now()}
}

// every is how often the display wants fresh stats.
func (d *demoDisplay) every() time.Duration {
	if d.terminal {
		return 250 * time.Millisecond
	}
	return 500 * time.Millisecond
}

// show draws the peers' state after elapsed; final is the last call.
func (d *demoDisplay) show(peers []*demoPeer, stats []engine.Stats, elapsed time.Duration, final bool) {
	if !d.terminal {
		if final || time.Since(d.last) < plainEvery {
			return
		}
		d.last = time.Now()
		fmt.Fprintf(d.w, "after %s:\n", elapsed.Round(time.Second))
		for i, p := range peers {
			fmt.Fprintf(d.w, "  %s\n", demoLine(p, stats[i], i == 0))
		}
		return
	}
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn) // back to the first line
	}
	for i, p := range peers {
		b.WriteString("\r\x1b[K" + demoLine(p, stats[i], i == 0) + "\n")
	}
	fmt.Fprintf(&b, "\r\x1b[K%s elapsed\n", elapsed.Round(100*time.Millisecond))
	d.drawn = len(peers) + 1
	io.WriteString(d.w, b.String())
}

// end leaves the live display where it is; what follows starts below it.
func (d *demoDisplay) end() { d.drawn = 0 }

// demoLine is one peer's line: a bar, its rates and peers, or its time.
func demoLine(p *demoPeer, st engine.Stats, seeder bool) string {
	const width = 24
	filled := min(int(st.Progress*width), width)
	bar := "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
	switch {
	case seeder:
		return fmt.Sprintf("%-8s %s  seeding         up %11s  peers %d", p.name, bar,
			formatRate(st.UploadRate), st.Peers)
	case p.doneIn > 0:
		return fmt.Sprintf("%-8s %s  done in %5.1fs  up %11s  peers %d", p.name, bar,
			p.doneIn.Seconds(), formatRate(st.UploadRate), st.Peers)
	}
	return fmt.Sprintf("%-8s %s  %5.1f%%  down %11s  up %11s  peers %d", p.name, bar,
		100*st.Progress, formatRate(st.DownloadRate), formatRate(st.UploadRate), st.Peers)
}

// writeDemoSummary compares the swarm's time with a single server's: one
// server uploading at rate must send every leecher its own copy, n·F/U;
// a swarm can do no better than max(F/U, n·F/((n+1)·U)): the seeder must
// send every piece at least once, and the n·F bytes the leechers receive
// come from n+1 uploaders.
func writeDemoSummary(w io.Writer, n int, size, rate int64, took time.Duration, seederUp, peersUp int64) {
	fmt.Fprintf(w, "%d leechers each downloaded %s in %s; every copy checked byte for byte.\n",
		n, formatSize(size), took.Round(10*time.Millisecond))
	fmt.Fprintf(w, "The seeder uploaded %s; the leechers uploaded %s to each other.\n",
		formatSize(seederUp), formatSize(peersUp))
	if rate <= 0 {
		fmt.Fprintln(w, "No upload limit, so no comparison with a single server (try --max-up 4M).")
		return
	}
	f, u := float64(size), float64(rate)
	server := time.Duration(float64(n) * f / u * float64(time.Second))
	bound := time.Duration(max(f/u, float64(n)*f/(float64(n+1)*u)) * float64(time.Second))
	fmt.Fprintf(w, "A single server uploading %s would have needed %s (N×F/U = %d × %s / %s).\n",
		formatRate(u), server.Round(10*time.Millisecond), n, formatSize(size), formatRate(u))
	fmt.Fprintf(w, "The lower bound for any swarm is %s (max(F/U, N·F/((N+1)·U))).\n", bound.Round(10*time.Millisecond))
	if speedup := server.Seconds() / took.Seconds(); speedup >= 1 {
		fmt.Fprintf(w, "Sharing was %.1f× faster than a single server.\n", speedup)
	} else {
		fmt.Fprintf(w, "At this size, starting up cost more than sharing saved: %.1f× a single server's time.\n", 1/speedup)
	}
}
