package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"shoal/engine"
	"shoal/metainfo"
)

func newSeedCommand() *cobra.Command {
	var opts sessionFlags
	cmd := &cobra.Command{
		Use:   "seed TORRENT PATH",
		Short: "Seed a torrent from its content",
		Long: `Seed the torrent TORRENT from PATH, the content itself as given to shoal
create: the file of a single-file torrent, the top directory of a multi-file
torrent (it may have been renamed).

PATH is verified first; data that does not match the torrent is refused.
Then shoal seeds until interrupted, showing the upload rate and peers.`,
		Example: `  shoal seed album.torrent ./album --port 6881`,
		Args:    exactArgs(2, "TORRENT and PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSeed(cmd.Context(), args[0], args[1], &opts, cmd.ErrOrStderr())
		},
	}
	opts.register(cmd.Flags(), false)
	return cmd
}

func runSeed(ctx context.Context, torrentPath, content string, o *sessionFlags, stderr io.Writer) error {
	mi, err := metainfo.Load(torrentPath)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(content)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if single := mi.Info.SingleFile; single && fi.IsDir() {
		return fmt.Errorf("%s is a directory, but the torrent holds a single file", content)
	} else if !single && !fi.IsDir() {
		return fmt.Errorf("%s is a file, but the torrent holds a directory", content)
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
	tor, err := sess.AddTorrent(mi, engine.AddOptions{
		SavePath: filepath.Dir(abs), ContentName: filepath.Base(abs), Peers: peers,
	})
	if err != nil {
		return err
	}
	sp := &statusPrinter{w: stderr, terminal: isTerminal(stderr), name: mi.Info.Name}
	checked := func(st engine.Stats) bool { return st.State != engine.StateChecking && st.State != engine.StateStopped }
	if err := watch(ctx, tor, sp, checked); err != nil {
		return err
	}
	if st := tor.Stats(); st.PiecesHave != st.Pieces {
		return fmt.Errorf("%s does not match the torrent: %d of %d pieces fail their hash check",
			content, st.Pieces-st.PiecesHave, st.Pieces)
	}
	fmt.Fprintf(stderr, "seeding %s on %s; Ctrl-C to stop\n", printable(mi.Info.Name), sess.Addr())
	err = watch(ctx, tor, sp, func(engine.Stats) bool { return false })
	if ctx.Err() != nil {
		return nil // interrupted: the normal way to stop seeding
	}
	return err
}
