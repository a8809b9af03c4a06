package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSyncFailureIsFinal: once a sync fails, every later Sync reports it
// and WritePiece refuses to write, even though the file system would let a
// second fsync succeed (Linux reports a write-back error once). Otherwise
// the engine would record as verified pieces whose data was lost.
func TestSyncFailureIsFinal(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"a", 40, ""}, tfile{"b", 24, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	fails := 1
	s.syncData = func(f *os.File) error {
		if fails > 0 {
			fails--
			return syscall.EIO
		}
		return fdatasync(f)
	}
	writePieces(t, s, tt, 0)
	err := s.Sync()
	if !errors.Is(err, ErrSyncFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("first Sync: %v, want ErrSyncFailed wrapping EIO", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(root, "t", "a")) {
		t.Errorf("sync error %q does not name the file", err)
	}
	// The fault is gone (the kernel forgot it), but the data may be too.
	for i := range 2 {
		if err2 := s.Sync(); !errors.Is(err2, ErrSyncFailed) {
			t.Fatalf("Sync %d after the failure: %v, want the first failure again", i+2, err2)
		}
	}
	if err := s.WritePiece(1, tt.piece(1)); !errors.Is(err, ErrSyncFailed) || !strings.Contains(err.Error(), "piece 1") {
		t.Fatalf("WritePiece after a failed sync: %v, want ErrSyncFailed naming the piece", err)
	}
	if err := s.Close(); !errors.Is(err, ErrSyncFailed) {
		t.Errorf("Close after a failed sync: %v, want the sync failure", err)
	}
	// A new storage on the same files (the torrent started again) works.
	fresh := newStorage(t, root, tt, FileOptions{})
	writePieces(t, fresh, tt, 1)
	if err := fresh.Sync(); err != nil {
		t.Fatalf("Sync of a fresh storage: %v", err)
	}
}

// TestSyncAfterCloseIsNotAFailure: a Sync that races with Close gets
// ErrClosed, and does not count as a failed sync.
func TestSyncAfterCloseIsNotAFailure(t *testing.T) {
	tt := newTorrent(t, 16, tfile{"", 40, ""})
	s := newStorage(t, t.TempDir(), tt, FileOptions{})
	writePieces(t, s, tt, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) || errors.Is(err, ErrSyncFailed) {
		t.Fatalf("Sync after Close: %v, want ErrClosed only", err)
	}
}

// TestResumeStoreReadOnly: a read-only store reads what a writer saved,
// refuses to change it, shares the file with other readers, and treats a
// missing or never-initialised database as having no records.
func TestResumeStoreReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resume.db")
	if _, err := OpenResumeStoreReadOnly(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of a missing database: %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenResumeStoreReadOnly(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of an empty file: %v, want ErrNotExist", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the read-only open changed the empty file: %v, %v", fi, err)
	}
	w := openStore(t, path) // a writer initialises the empty file
	rec := sampleRecord(7)
	if err := w.Save(rec); err != nil {
		t.Fatal(err)
	}
	// A writer holds an exclusive lock: a reader waits a second, then says so.
	if _, err := OpenResumeStoreReadOnly(path); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("read-only open while a writer has it: %v, want a locked error", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r1, err := OpenResumeStoreReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := OpenResumeStoreReadOnly(path) // readers share the lock
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got, ok, err := r2.Load(rec.InfoHash)
	if err != nil || !ok || got.Downloaded != rec.Downloaded || string(got.Verified) != string(rec.Verified) {
		t.Fatalf("Load from a read-only store: %+v, %v, %v", got, ok, err)
	}
	if err := r1.Save(sampleRecord(8)); err == nil {
		t.Error("Save into a read-only store succeeded")
	}
	if err := r1.Delete(rec.InfoHash); err == nil {
		t.Error("Delete from a read-only store succeeded")
	}
	if all, err := r1.LoadAll(); err != nil || len(all) != 1 {
		t.Errorf("LoadAll: %d records, %v; want 1", len(all), err)
	}

	// A database created by bbolt but killed before our buckets existed.
	bare := filepath.Join(dir, "bare.db")
	b := openBare(t, bare)
	b.Close()
	r3, err := OpenResumeStoreReadOnly(bare)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if _, ok, err := r3.Load(rec.InfoHash); ok || err != nil {
		t.Errorf("Load from an uninitialised store: ok %v, err %v", ok, err)
	}
	if ids, err := r3.List(); len(ids) != 0 || err != nil {
		t.Errorf("List of an uninitialised store: %v, %v", ids, err)
	}
	if all, err := r3.LoadAll(); len(all) != 0 || err != nil {
		t.Errorf("LoadAll of an uninitialised store: %v, %v", all, err)
	}
}

// openBare creates a bbolt database with none of the store's buckets.
func openBare(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestDirSyncUnsupported: a file system that cannot fsync directories does
// not make every Sync fail (which, a failed sync being final, would stop
// every download there); a real I/O error does.
func TestDirSyncUnsupported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{syscall.EINVAL, true},
		{&os.PathError{Op: "sync", Path: "/d", Err: syscall.ENOTSUP}, true},
		{syscall.EOPNOTSUPP, true},
		{errors.ErrUnsupported, true},
		{syscall.EIO, false},
		{syscall.ENOSPC, false},
		{&os.PathError{Op: "sync", Path: "/d", Err: syscall.EIO}, false},
	} {
		if got := dirSyncUnsupported(tc.err); got != tc.want {
			t.Errorf("dirSyncUnsupported(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
