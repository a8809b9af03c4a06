package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryExitStatus builds the real binary and checks what a shell sees:
// the exit status, and an error that is one line with no Go panic or stack
// trace in it.
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "shoal")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.torrent")
	if err := os.WriteFile(corrupt, []byte("d4:infoi1e"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		code     int
		errLines int
	}{
		{[]string{"--version"}, 0, 0},
		{[]string{"info", corrupt}, 1, 1},
		{[]string{"create", filepath.Join(dir, "missing"), "-o", filepath.Join(dir, "x.torrent")}, 1, 1},
		{[]string{"info", "magnet:?xt=urn:btih:123"}, 1, 1},
		{[]string{"create", dir}, 2, 2},
		{[]string{"--nope"}, 2, 2},
	}
	for _, tc := range tests {
		cmd := exec.Command(bin, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if code != tc.code {
			t.Errorf("shoal %v: exit status %d, want %d; stderr %q", tc.args, code, tc.code, stderr.String())
		}
		if n := len(lines(stderr.String())); n != tc.errLines {
			t.Errorf("shoal %v: %d stderr lines, want %d: %q", tc.args, n, tc.errLines, stderr.String())
		}
		for _, bad := range []string{"goroutine", "panic", "Usage:"} {
			if strings.Contains(stderr.String(), bad) {
				t.Errorf("shoal %v: stderr contains %q: %q", tc.args, bad, stderr.String())
			}
		}
		if tc.code == 0 && !strings.HasPrefix(stdout.String(), "shoal ") {
			t.Errorf("shoal %v: stdout %q", tc.args, stdout.String())
		}
	}
}
