package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// result is what one in-process run of shoal produced.
type result struct {
	code           int
	stdout, stderr string
}

// shoal runs the command in-process with args.
func shoal(t *testing.T, args ...string) result {
	t.Helper()
	return shoalContext(t, context.Background(), args...)
}

func shoalContext(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(ctx, args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// lines splits output into its lines, without the final newline.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// assertFailure checks the contract for status 1: exactly one line on
// stderr, "shoal: " followed by a message containing each of want.
func assertFailure(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != exitFailure {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, exitFailure, r.stderr)
	}
	l := lines(r.stderr)
	if len(l) != 1 || !strings.HasPrefix(l[0], "shoal: ") {
		t.Fatalf("stderr should be one line \"shoal: ...\", got:\n%s", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(l[0], w) {
			t.Errorf("stderr %q does not mention %q", l[0], w)
		}
	}
}

// assertUsage checks the contract for status 2: the error, then a hint
// naming the command whose help to read.
func assertUsage(t *testing.T, r result, hintCommand string, want ...string) {
	t.Helper()
	if r.code != exitUsage {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, exitUsage, r.stderr)
	}
	l := lines(r.stderr)
	if len(l) != 2 || !strings.HasPrefix(l[0], "shoal: ") {
		t.Fatalf("stderr should be an error line and a hint, got:\n%s", r.stderr)
	}
	if hint := "Run '" + hintCommand + " --help' for usage."; l[1] != hint {
		t.Errorf("hint = %q, want %q", l[1], hint)
	}
	for _, w := range want {
		if !strings.Contains(l[0], w) {
			t.Errorf("error %q does not mention %q", l[0], w)
		}
	}
	if r.stdout != "" {
		t.Errorf("usage error wrote to stdout: %q", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		hint string
		want string
	}{
		{"no args", nil, "shoal", "missing command"},
		{"unknown command", []string{"creat"}, "shoal", `unknown command "creat"`},
		{"unknown root flag", []string{"--bogus"}, "shoal", "bogus"},
		{"create without path", []string{"create", "-o", "x.torrent"}, "shoal create", "got 0"},
		{"create with two paths", []string{"create", dir, dir, "-o", "x.torrent"}, "shoal create", "got 2"},
		{"create without -o", []string{"create", dir}, "shoal create", "--output"},
		{"create with empty -o", []string{"create", dir, "-o", ""}, "shoal create", "--output"},
		{"create -o without value", []string{"create", dir, "-o"}, "shoal create", "needs an argument"},
		{"create unknown flag", []string{"create", dir, "-o", "x", "--frobnicate"}, "shoal create", "frobnicate"},
		{"create unknown shorthand", []string{"create", dir, "-o", "x", "-z"}, "shoal create", "-z"},
		{"bad size syntax", []string{"create", dir, "-o", "x", "--piece-size", "16Q"}, "shoal create", "16Q"},
		{"negative size", []string{"create", dir, "-o", "x", "--piece-size", "-1"}, "shoal create", "piece-size"},
		{"zero size", []string{"create", dir, "-o", "x", "--piece-size", "0"}, "shoal create", "zero"},
		{"bad bool value", []string{"create", dir, "-o", "x", "--private=maybe"}, "shoal create", "maybe"},
		{"info without argument", []string{"info"}, "shoal info", "got 0"},
		{"info with two arguments", []string{"info", "a", "b"}, "shoal info", "got 2"},
		{"info unknown flag", []string{"info", "--yaml", "a"}, "shoal info", "yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertUsage(t, shoal(t, tc.args...), tc.hint, tc.want)
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := shoal(t, "--version")
	if r.code != exitOK || r.stdout != "shoal "+version+"\n" || r.stderr != "" {
		t.Errorf("--version: %+v", r)
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"create", "--help"}, {"info", "-h"}, {"help", "info"}} {
		r := shoal(t, args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
			t.Errorf("%v: status %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := shoal(t, "info", "--help"); !strings.Contains(r.stdout, "piece_count") {
		t.Errorf("info --help does not document the JSON keys:\n%s", r.stdout)
	}
}

func TestRunUsesGivenArgs(t *testing.T) {
	// run must not fall back to os.Args (the test binary's flags) when
	// given no arguments.
	var stdout, stderr bytes.Buffer
	if code := run([]string{}, &stdout, &stderr); code != exitUsage {
		t.Errorf("run([]) = %d, want %d; stderr %q", code, exitUsage, stderr.String())
	}
	stderr.Reset()
	if code := run(nil, &stdout, &stderr); code != exitUsage {
		t.Errorf("run(nil) = %d, want %d; stderr %q", code, exitUsage, stderr.String())
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain name.iso", "plain name.iso"},
		{"ünïcode 日本", "ünïcode 日本"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"tab\there", `tab\there`},
		{"new\nline", `new\nline`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"evil\u202Egpj.exe", `evil\u202egpj.exe`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"replacement \uFFFD kept", "replacement \uFFFD kept"},
	}
	for _, tc := range tests {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := oneLine("first\nsecond\r\nthird\n"); got != "first second third" {
		t.Errorf("oneLine = %q", got)
	}
}
