package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"shoal/engine"
)

// fetchOptions are the flags of "shoal info --fetch".
type fetchOptions struct {
	sessionFlags
	enabled bool
	output  string
}

func (f *fetchOptions) register(flags *pflag.FlagSet) {
	flags.BoolVar(&f.enabled, "fetch", false, "fetch a magnet link's metadata from peers and save it as a .torrent (-o FILE)")
	flags.StringVarP(&f.output, "output", "o", "", "`FILE` to save the fetched .torrent in (with --fetch)")
	f.sessionFlags.register(flags, false)
}

// runInfoFetch fetches a magnet link's metadata, saves it as a .torrent
// file (atomically: a reader never sees half a file) and describes it.
func runInfoFetch(ctx context.Context, arg string, o *fetchOptions, asJSON bool, stdout, stderr io.Writer) error {
	if !isMagnet(arg) {
		return usagef("--fetch needs a magnet link, not %q", arg)
	}
	if o.output == "" {
		return usagef("--fetch needs -o FILE, the .torrent file to write")
	}
	m, err := parseMagnetArg(arg)
	if err != nil {
		return err
	}
	if err := checkMagnetSources(m, &o.sessionFlags, nil); err != nil {
		return err
	}
	peers, err := o.resolvePeers(ctx)
	if err != nil {
		return usageError{err}
	}
	sess, err := o.newSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	sp := &statusPrinter{w: stderr, terminal: isTerminal(stderr), name: magnetDisplayName(m)}
	mi, err := fetchMetadata(ctx, sess, m, engine.FetchOptions{Peers: append(peers, magnetPeerAddrs(m)...)}, sp)
	if err != nil {
		return err
	}
	data, err := mi.Marshal()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.output, data); err != nil {
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	if err := sess.Close(); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, torrentJSON(mi))
	}
	fmt.Fprintf(stderr, "saved %s\n", o.output)
	return writeTorrentText(stdout, mi)
}
