//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGetDiskFull: "shoal get" into a file system too small for the
// torrent exits with status 1 and a message that says the disk is full and
// names the file; run again once there is room, it resumes from the pieces
// verified before and completes with the right data.
func TestGetDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test mounts a tmpfs and must run as root in CI")
		}
		t.Skip("mounts a tmpfs: run as root")
	}
	const pieceLength = 64 << 10
	c := makeContent(t, "big.bin", pieceLength, 3<<20)
	_, _, addr := startSeeder(t, c, 0)
	out := t.TempDir()
	if err := syscall.Mount("tmpfs", out, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", out, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(out, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", out, err)
		}
	})
	// 2.5 of the 4 MiB are taken: the 3 MiB torrent does not fit.
	filler := filepath.Join(out, "filler")
	if err := os.WriteFile(filler, make([]byte, 5<<19), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(getArgs(c.torrent, out, t.TempDir(), addr), "--json")

	r := shoalTimeout(t, 60*time.Second, args...)
	t.Logf("disk full: exit %d, stderr %q", r.code, r.stderr)
	if r.code != exitFailure {
		t.Fatalf("exit status %d, want %d", r.code, exitFailure)
	}
	file := filepath.Join(out, "big.bin")
	for _, want := range []string{"the disk is full", "no space left on device", file} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r = shoalTimeout(t, 60*time.Second, args...)
	if r.code != 0 {
		t.Fatalf("after freeing space: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := parseGetJSON(t, r.stdout)
	done := lines[len(lines)-1]
	if done.VerifiedAtStart == 0 {
		t.Error("after freeing space the run found no verified piece: the first run's work was lost")
	}
	checkResumed(t, done, done.VerifiedAtStart, c.mi.Info.TotalLength(), pieceLength)
	sameData(t, c.mi, c.root, out)
}
