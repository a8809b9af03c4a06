package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"shoal/engine"
	"shoal/metainfo"
	"shoal/tracker"
)

// getOptions holds the flags of "shoal get".
type getOptions struct {
	sessionFlags
	outDir     string
	seed       bool
	seedRatio  float64
	only       string
	sequential bool
	asJSON     bool
	trackers   []string
}

func newGetCommand() *cobra.Command {
	var opts getOptions
	cmd := &cobra.Command{
		Use:   "get TORRENT|MAGNET",
		Short: "Download a torrent (and optionally seed it)",
		Long: `Download the torrent described by the .torrent file TORRENT into DIR (-o, default
the current directory), under the torrent's name, as other clients do.

Existing data is checked first, so an interrupted download resumes without
fetching verified pieces again (resume data lives in --data-dir). Peers
come from the torrent's trackers, any --tracker given, --peer, the DHT
(unless --no-dht), peer exchange and, with --lsd, local service discovery.

For a magnet link (an argument starting with "magnet:"), the torrent's
metadata is first fetched from peers (BEP 9): those of the link's trackers
(tr), its peer addresses (x.pe), --peer and the DHT. The link's name (dn)
is shown until the metadata arrives. To keep the .torrent, see shoal info
--fetch.

shoal get exits 0 once every wanted piece is verified; with --seed it keeps
uploading until interrupted, with --seed-ratio R until it has uploaded R
times the wanted size. Ctrl-C stops cleanly.

--json prints one JSON object per line for status and a last line with
"done": true, info_hash, downloaded (payload bytes received from peers in
this run), uploaded, verified_at_start (pieces valid before downloading)
and seconds.`,
		Example: `  shoal get album.torrent -o ~/Music --peer 192.0.2.7:6881
  shoal get 'magnet:?xt=urn:btih:...&dn=album' -o ~/Music
  shoal get big.torrent --only 0,2,5-7 --max-down 10M --seed-ratio 1.5`,
		Args: exactArgs(1, "TORRENT or MAGNET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), args[0], &opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	opts.sessionFlags.register(flags, true)
	flags.StringVarP(&opts.outDir, "output", "o", ".", "`DIR` to save into")
	flags.BoolVar(&opts.seed, "seed", false, "keep seeding after the download until interrupted")
	flags.Float64Var(&opts.seedRatio, "seed-ratio", 0, "seed until uploaded/wanted size reaches `R`, then exit")
	flags.StringVar(&opts.only, "only", "", "download only these file `INDICES` (e.g. 0,2,5-7; see shoal info)")
	flags.BoolVar(&opts.sequential, "sequential", false, "download pieces in order (for streaming)")
	flags.BoolVar(&opts.asJSON, "json", false, "print status as JSON lines")
	flags.StringArrayVar(&opts.trackers, "tracker", nil, "`URL` of a tracker to announce to besides the torrent's own (repeatable)")
	return cmd
}

// doneJSON is the last line of "shoal get --json".
type doneJSON struct {
	Done            bool    `json:"done"`
	InfoHash        string  `json:"info_hash"`
	Downloaded      int64   `json:"downloaded"`
	Uploaded        int64   `json:"uploaded"`
	VerifiedAtStart int     `json:"verified_at_start"`
	Seconds         float64 `json:"seconds"`
}

func runGet(ctx context.Context, arg string, o *getOptions, stdout, stderr io.Writer) error {
	if o.seedRatio < 0 {
		return usagef("--seed-ratio must not be negative")
	}
	for _, u := range o.trackers {
		if err := tracker.CheckURL(u); err != nil {
			return usagef("--tracker: %v", err)
		}
	}
	var (
		mi     *metainfo.MetaInfo
		magnet *metainfo.Magnet
		err    error
	)
	if isMagnet(arg) {
		if magnet, err = parseMagnetArg(arg); err != nil {
			return err
		}
		if err := checkMagnetSources(magnet, &o.sessionFlags, o.trackers); err != nil {
			return err
		}
	} else if mi, err = metainfo.Load(arg); err != nil {
		return err
	}
	peers, err := o.resolvePeers(ctx)
	if err != nil {
		return usageError{err}
	}
	out := stderr
	if o.asJSON {
		out = stdout
	}
	sp := &statusPrinter{w: out, terminal: !o.asJSON && isTerminal(stderr), asJSON: o.asJSON}
	start := time.Now()
	sess, err := o.newSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	if magnet != nil {
		sp.name = magnetDisplayName(magnet)
		peers = append(peers, magnetPeerAddrs(magnet)...)
		mi, err = fetchMetadata(ctx, sess, magnet, engine.FetchOptions{Peers: peers, Trackers: o.trackers}, sp)
		if err != nil {
			return err
		}
	}
	return download(ctx, sess, mi, peers, o, sp, start, stdout, stderr)
}

// download runs the torrent of get until it is done.
func download(ctx context.Context, sess *engine.Session, mi *metainfo.MetaInfo, peers []netip.AddrPort, o *getOptions,
	sp *statusPrinter, start time.Time, stdout, stderr io.Writer) error {
	add := engine.AddOptions{SavePath: o.outDir, Sequential: o.sequential, Trackers: o.trackers, Peers: peers}
	if len(o.trackers) > 0 && mi.Info.Private {
		return usagef("--tracker: the torrent is private (BEP 27): it may use only the trackers it names")
	}
	if o.only != "" {
		want, err := parseFileSelection(o.only, len(mi.Info.Files))
		if err != nil {
			return usageError{err}
		}
		add.FilePriorities = make([]engine.Priority, len(want))
		for i, w := range want {
			if !w {
				add.FilePriorities[i] = engine.PrioritySkip
			}
		}
	}
	tor, err := sess.AddTorrent(mi, add)
	if err != nil {
		return err
	}
	noDHT := o.noDHT || mi.Info.Private
	if len(add.Peers) == 0 && len(tracker.Tiers(mi.Announce, mi.AnnounceList, o.trackers...)) == 0 && noDHT && !o.asJSON {
		// No tracker, no peer, no DHT: say why nothing happens.
		fmt.Fprintf(stderr, "no --peer given: waiting for peers to connect to %s\n", sess.Addr())
	}
	sp.name = mi.Info.Name
	if err := watch(ctx, tor, sp, func(st engine.Stats) bool { return o.finished(tor, st) }); err != nil {
		return err
	}
	st := tor.Stats()
	if err := sess.Close(); err != nil {
		return err
	}
	if o.asJSON {
		return writeJSONLine(stdout, doneJSON{
			Done: true, InfoHash: mi.InfoHash.String(), Downloaded: st.Downloaded, Uploaded: st.Uploaded,
			VerifiedAtStart: st.VerifiedAtStart, Seconds: time.Since(start).Seconds(),
		})
	}
	fmt.Fprintf(stdout, "%s: complete, %s downloaded, %s uploaded in %s\n", printable(mi.Info.Name),
		formatSize(st.Downloaded), formatSize(st.Uploaded), time.Since(start).Round(time.Second))
	return nil
}

// finished reports whether get has done what was asked.
func (o *getOptions) finished(tor *engine.Torrent, st engine.Stats) bool {
	select {
	case <-tor.Complete():
	default:
		return false
	}
	switch {
	case o.seedRatio > 0:
		return st.WantedSize > 0 && float64(st.UploadedEver)/float64(st.WantedSize) >= o.seedRatio
	case o.seed:
		return false
	}
	return true
}

// watch prints status until done says so, the torrent fails, or ctx ends.
func watch(ctx context.Context, tor *engine.Torrent, sp *statusPrinter, done func(engine.Stats) bool) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	defer sp.done()
	completeC := tor.Complete() // set to nil once seen, so it wakes us once
	for {
		st := tor.Stats()
		if st.State == engine.StateError {
			return st.Err
		}
		if done(st) {
			sp.last = time.Time{} // always print the final state
			sp.update(st, time.Now())
			return nil
		}
		sp.update(st, time.Now())
		select {
		case <-ctx.Done():
			return errors.New("interrupted; run the same command again to resume")
		case <-completeC:
			completeC = nil
		case <-tick.C:
		}
	}
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
