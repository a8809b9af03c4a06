package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// version is shoal's release version; it also goes into the "created by"
// field of the torrents shoal makes.
const version = "0.1.0-dev"

// Exit statuses. Scripts rely on telling a usage mistake (fix the command
// line) from a failure (fix the input or the environment).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error in how shoal was invoked: an unknown command or
// flag, a missing or extra argument, or a flag value that does not parse.
// Such errors exit with status 2 and a hint to read --help; every other error
// exits with status 1.
type usageError struct {
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef builds a usageError from a format string.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exactArgs is cobra.ExactArgs with a usageError and a message naming what
// the command expects.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes exactly %d argument (%s), got %d", cmd.CommandPath(), n, what, len(args))
		}
		return nil
	}
}

// newRootCommand builds the command tree. Output goes to stdout and stderr
// only, so tests can run commands in-process.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoal",
		Short: "Shoal is a BitTorrent engine: make and inspect torrents",
		Long: "Shoal is a BitTorrent engine.\n\n" +
			"Exit status: 0 on success, 1 on failure or bad input, 2 on wrong usage.",
		Version: version,
		// Errors are printed once, by run, in shoal's own format.
		SilenceErrors: true,
		SilenceUsage:  true,
		// Checking the arguments ourselves (instead of cobra's built-in check
		// for root commands) makes an unknown command a usageError.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %q?)", s[0])
				}
				return usageError{errors.New(msg)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("missing command")
		},
	}
	root.SetVersionTemplate("shoal {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Inherited by every subcommand: unknown flags, missing flag values and
	// values a flag's Set rejects are all usage errors.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(newCreateCommand(), newInfoCommand(), newGetCommand(), newSeedCommand(), newDemoCommand(), newVerifyCommand(), newTrackerCommand(), newDHTCommand())
	return root
}

// execute runs shoal with args and returns the exit status. It prints errors
// itself: one line "shoal: message" on stderr, followed for usage errors by a
// hint naming the command whose help to read.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args == nil {
		// cobra reads os.Args when given nil.
		args = []string{}
	}
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "shoal: %s\n", oneLine(err.Error()))
	var usage usageError
	if errors.As(err, &usage) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitFailure
}

// oneLine makes an error message safe to print as a single terminal line:
// line breaks become spaces and other control or formatting characters
// (which may come from an untrusted torrent) are escaped.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return printable(s)
}

// printable escapes what a terminal would interpret rather than display:
// control characters (ANSI escape sequences start with one), Unicode format
// characters such as the right-to-left override (which can make a name read
// differently from what it is), and bytes that are not UTF-8. Torrent names,
// paths, comments and URLs are untrusted, so all of them pass through here
// before being printed for a person.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
