// Command shoal is the command-line interface to the Shoal BitTorrent engine:
// "shoal create" makes a .torrent from a file or directory, "shoal info"
// describes a .torrent file or magnet link, "shoal get" downloads a torrent,
// "shoal seed" seeds one from its content, and "shoal demo" runs a whole
// swarm in one process to show what sharing does.
//
// Exit status is 0 on success, 1 on failure or bad input (with exactly one
// line "shoal: message" on stderr) and 2 on wrong usage (an unknown command
// or flag, a wrong number of arguments, or a malformed flag value).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes shoal with the given arguments (without the program name) and
// returns its exit status. Ctrl-C or SIGTERM cancels the context that long
// operations watch, so they stop cleanly and leave no partial output.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SHOAL_CPUPROFILE=FILE writes a pprof CPU profile of the whole run:
	// how the benchmarks in bench/ look inside a real process.
	if path := os.Getenv("SHOAL_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close()
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile() // runs before the Close above
			}
		}
	}
	// SHOAL_TRACE=FILE writes an execution trace (go tool trace FILE):
	// where goroutines wait, which a CPU profile cannot show.
	if path := os.Getenv("SHOAL_TRACE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close()
			if trace.Start(f) == nil {
				defer trace.Stop()
			}
		}
	}
	return execute(ctx, args, stdout, stderr)
}
