//go:build linux

package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"shoal/storage"
)

// needRoot skips a test that mounts file systems unless we are root; in CI
// (CI=true), which runs as root, not being root is a failure.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test mounts a tmpfs and must run as root in CI")
	}
	t.Skip("mounts a tmpfs: run as root")
}

// mountTmpfs mounts a tmpfs of the given size on a new directory and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	// Registered after TempDir's cleanup, so it runs before the removal.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// remount changes a mount between read-only and read-write. Writes still
// finishing on files of a stopped torrent make a read-only remount fail
// with EBUSY for a moment: it is retried.
func remount(t *testing.T, dir string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_NOSUID | syscall.MS_NODEV)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Mount("tmpfs", dir, "tmpfs", flags, "")
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			t.Fatalf("remount %s (read-only %v): %v", dir, readOnly, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitState waits until the torrent is in state want.
func waitState(t *testing.T, tor *Torrent, want State, timeout time.Duration) Stats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := tor.Stats()
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %v (err %v), want %v", tor.Name(), st.State, st.Err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkResumedAfterError checks a torrent that completed after Start
// following a storage error: its check found at least the pieces verified
// before the error, and it downloaded only what was missing, give or take
// the pieces that were in flight.
func checkResumedAfterError(t *testing.T, tor *Torrent, before Stats, pieceLength int64) {
	t.Helper()
	after := tor.Stats()
	got := after.Downloaded - before.Downloaded
	missing := int64(after.Pieces-after.VerifiedAtStart) * pieceLength
	t.Logf("after Start: %d pieces verified at start (%d before the error), %d bytes downloaded, %d missing",
		after.VerifiedAtStart, before.PiecesHave, got, missing)
	if after.VerifiedAtStart < before.PiecesHave {
		t.Errorf("the check after Start found %d pieces, but %d were verified before the error", after.VerifiedAtStart, before.PiecesHave)
	}
	const slackPieces = 4 // pieces in flight may arrive twice
	if got > missing+slackPieces*pieceLength {
		t.Errorf("downloaded %d bytes after Start, but only %d were missing: verified pieces were fetched again", got, missing)
	}
}

// TestDiskFull downloads into a tmpfs too small for the torrent, in one
// session with a torrent that goes to an ordinary directory. The first
// stops in the error state with a message that says the disk is full and
// names the file; the other completes. Once space is freed, Start resumes
// the first without downloading its verified pieces again.
func TestDiskFull(t *testing.T) {
	needRoot(t)
	const pieceLength = 64 << 10
	big := makeFixture(t, pieceLength, 3<<20)                    // 48 pieces
	other := makeFixture(t, pieceLength, 700<<10, 300<<10, 5000) // a directory of three files
	seeder := newTestSession(t, Config{})
	for _, fx := range []fixture{big, other} {
		if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
			t.Fatal(err)
		}
	}
	peers := []netip.AddrPort{addrOf(t, seeder)}

	// 4 MiB, of which a filler takes 2.5: the torrent's 3 MiB do not fit
	// until the filler is deleted.
	small := mountTmpfs(t, "4m")
	filler := filepath.Join(small, "filler")
	if err := os.WriteFile(filler, make([]byte, 5<<19), 0o644); err != nil {
		t.Fatal(err)
	}
	leecher := newTestSession(t, Config{DataDir: t.TempDir()})
	bigTor, err := leecher.AddTorrent(big.mi, AddOptions{SavePath: small, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	otherOut := t.TempDir()
	otherTor, err := leecher.AddTorrent(other.mi, AddOptions{SavePath: otherOut, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}

	st := waitState(t, bigTor, StateError, 30*time.Second)
	msg := st.Err.Error()
	t.Logf("error state: %v", msg)
	if !errors.Is(st.Err, syscall.ENOSPC) || !strings.Contains(msg, "disk is full") || !strings.Contains(msg, "no space left on device") {
		t.Errorf("error %q: want ENOSPC and a message that says the disk is full", msg)
	}
	if !strings.Contains(msg, filepath.Join(small, "content")) {
		t.Errorf("error %q does not name the file in %s", msg, small)
	}
	if st.PiecesHave == 0 || st.PiecesHave >= st.Pieces {
		t.Fatalf("%d of %d pieces verified before the disk filled; want some", st.PiecesHave, st.Pieces)
	}
	if st.Peers != 0 {
		t.Errorf("torrent in error state still has %d peers", st.Peers)
	}
	waitComplete(t, otherTor, 30*time.Second)
	sameContent(t, other.mi, other.dataDir, otherOut)
	// The error state stays: nothing retries behind the user's back.
	time.Sleep(200 * time.Millisecond)
	if again := bigTor.Stats(); again.State != StateError || again.PiecesHave != st.PiecesHave {
		t.Fatalf("after the error: state %v, %d pieces; want error, %d", again.State, again.PiecesHave, st.PiecesHave)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := bigTor.Start(); err != nil {
		t.Fatal(err)
	}
	bigTor.AddPeers(peers...)
	waitComplete(t, bigTor, 30*time.Second)
	checkResumedAfterError(t, bigTor, st, pieceLength)
	sameContent(t, big.mi, big.dataDir, small)
}

// TestReadOnlyDownloadDirectory: a torrent whose download directory turns
// read-only (a read-only mount: as root, permission bits would not stop a
// write) stops in the error state with a message that says so and names
// the file, and after the file system is writable again, Start resumes it
// with every piece verified before.
func TestReadOnlyDownloadDirectory(t *testing.T) {
	needRoot(t)
	const pieceLength = 32 << 10
	fx := makeFixture(t, pieceLength, 1<<20, 1<<20) // 64 pieces in two files
	// Slow enough to stop the download part way.
	seeder := newTestSession(t, Config{UploadRate: 512 << 10})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	peers := []netip.AddrPort{addrOf(t, seeder)}
	dir := mountTmpfs(t, "8m")
	leecher := newTestSession(t, Config{DataDir: t.TempDir()})
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: dir, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for tor.Stats().PiecesHave < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", tor.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The files must be closed for the remount: stop, make the file system
	// read-only, and start again.
	if err := tor.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := tor.Stats()
	if stopped.PiecesHave >= stopped.Pieces {
		t.Fatal("the download finished before it was stopped; make it slower")
	}
	remount(t, dir, true)
	if err := tor.Start(); err != nil {
		t.Fatal(err)
	}
	tor.AddPeers(peers...)
	st := waitState(t, tor, StateError, 30*time.Second)
	msg := st.Err.Error()
	t.Logf("error state: %v", msg)
	if !errors.Is(st.Err, syscall.EROFS) || !strings.Contains(msg, "read-only") {
		t.Errorf("error %q: want EROFS and a message that says the file system is read-only", msg)
	}
	if !strings.Contains(msg, filepath.Join(dir, "content")) {
		t.Errorf("error %q does not name the file in %s", msg, dir)
	}
	if st.VerifiedAtStart < stopped.PiecesHave || st.PiecesHave < stopped.PiecesHave {
		t.Errorf("read-only start: %d pieces verified at start, %d now; %d before", st.VerifiedAtStart, st.PiecesHave, stopped.PiecesHave)
	}

	remount(t, dir, false)
	if err := tor.Start(); err != nil {
		t.Fatal(err)
	}
	tor.AddPeers(peers...)
	waitComplete(t, tor, 30*time.Second)
	checkResumedAfterError(t, tor, st, pieceLength)
	sameContent(t, fx.mi, fx.dataDir, dir)
}

// fillUp writes a file in dir until the file system is full.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 16<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// TestResumeStoreDiskFull: when the disk that holds the resume database is
// full, downloads go on (saving resume data only fails, with a warning),
// the database stays readable, and once there is room again the next save
// records everything, so a new session resumes with every piece.
func TestResumeStoreDiskFull(t *testing.T) {
	needRoot(t)
	const pieceLength = 32 << 10
	fx := makeFixture(t, pieceLength, 1<<20)
	seeder := newTestSession(t, Config{})
	if _, err := seeder.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir}); err != nil {
		t.Fatal(err)
	}
	dataDir := mountTmpfs(t, "1m")
	out := t.TempDir()
	logs := &lockedBuffer{}
	leecher, err := NewSession(Config{ListenAddr: "127.0.0.1:0", DataDir: dataDir, ResumeInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer leecher.Close()
	filler := fillUp(t, dataDir)
	tor, err := leecher.AddTorrent(fx.mi, AddOptions{SavePath: out, Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 30*time.Second)
	time.Sleep(1500 * time.Millisecond) // a periodic save fails meanwhile
	if st := tor.Stats(); st.State != StateSeeding || st.Err != nil {
		t.Fatalf("with the resume store's disk full: state %v, err %v; want seeding", st.State, st.Err)
	}
	sameContent(t, fx.mi, fx.dataDir, out)
	if l := logs.String(); !strings.Contains(l, "saving resume data") || !strings.Contains(l, "no space left on device") {
		t.Errorf("no failed resume save was logged while the disk was full; logs:\n%s", l)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := leecher.Close(); err != nil {
		t.Fatalf("closing the session once there is room: %v", err)
	}
	rs, err := storage.OpenResumeStoreReadOnly(filepath.Join(dataDir, "resume.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec, ok, err := rs.Load(fx.mi.InfoHash)
	rs.Close()
	if err != nil || !ok {
		t.Fatalf("record after the disk had room again: ok %v, err %v", ok, err)
	}
	t.Logf("record: %d bytes downloaded, verified bitfield %x", rec.Downloaded, rec.Verified)

	again := newTestSession(t, Config{DataDir: dataDir})
	restored, err := again.RestoreTorrents()
	if err != nil || len(restored) != 1 {
		t.Fatalf("restore: %d torrents, %v", len(restored), err)
	}
	waitComplete(t, restored[0], 30*time.Second)
	if st := restored[0].Stats(); st.VerifiedAtStart != st.Pieces || st.Downloaded != 0 {
		t.Errorf("restored: %d of %d pieces verified at start, %d bytes downloaded; want all, 0", st.VerifiedAtStart, st.Pieces, st.Downloaded)
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
