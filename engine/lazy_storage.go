package engine

import (
	"errors"
	"fmt"
	"sync"

	"shoal/storage"
)

// lazyStorage is the storage of an idle seeding torrent: it holds no open
// file and none of FileStorage's tables until something reads or writes,
// then opens a FileStorage and keeps it until release. Thousands of idle
// torrents thus cost neither descriptors nor the memory of their storage.
//
// Make one from a FileStorage that Close failed to sync with
// newLazyStorage, so that the failure is not forgotten.
type lazyStorage struct {
	t      *Torrent // for the save path and files; read-only fields
	wanted []bool   // per file, when the storage was made

	mu     sync.Mutex
	fs     *storage.FileStorage // nil until used, and after release
	closed bool
	// syncErr is a failed sync of a FileStorage this storage held (or was
	// made from): like FileStorage's own, it is final, so that a resume
	// record saved later never claims data that may have been lost.
	syncErr error
}

var (
	_ storage.Storage  = (*lazyStorage)(nil)
	_ emptyFileCreator = (*lazyStorage)(nil)
)

// get returns the open FileStorage, opening it if needed.
func (l *lazyStorage) get() (*storage.FileStorage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, storage.ErrClosed
	}
	if l.fs == nil {
		// As Torrent.start: a seeding torrent may download again when a
		// skipped file becomes wanted.
		fs, err := storage.NewFileStorage(l.t.savePath, l.t.diskInfo, l.t.fileOptions(l.wanted))
		if err != nil {
			return nil, err
		}
		l.fs = fs
	}
	return l.fs, nil
}

func (l *lazyStorage) ReadBlock(piece int, begin int64, buf []byte) error {
	fs, err := l.get()
	if err != nil {
		return err
	}
	return fs.ReadBlock(piece, begin, buf)
}

func (l *lazyStorage) WritePiece(piece int, data []byte) error {
	if err := l.failedSync(); err != nil {
		return fmt.Errorf("storage: write piece %d: %w", piece, err)
	}
	fs, err := l.get()
	if err != nil {
		return err
	}
	return fs.WritePiece(piece, data)
}

func (l *lazyStorage) CreateEmptyFiles() error {
	fs, err := l.get()
	if err != nil {
		return err
	}
	return fs.CreateEmptyFiles()
}

// Sync syncs what was written; nothing was if the storage is not open. A
// sync that failed before, also in a FileStorage since released, fails it.
func (l *lazyStorage) Sync() error {
	l.mu.Lock()
	fs, failed := l.fs, l.syncErr
	l.mu.Unlock()
	if failed != nil {
		return failed
	}
	if fs == nil {
		return nil
	}
	return l.noteSync(fs.Sync())
}

// failedSync returns the remembered sync failure, if any.
func (l *lazyStorage) failedSync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncErr
}

// noteSync remembers err if it is a failed sync, and returns it.
func (l *lazyStorage) noteSync(err error) error {
	if errors.Is(err, storage.ErrSyncFailed) {
		l.mu.Lock()
		if l.syncErr == nil {
			l.syncErr = err
		}
		l.mu.Unlock()
	}
	return err
}

func (l *lazyStorage) Close() error {
	l.mu.Lock()
	fs := l.fs
	l.fs, l.closed = nil, true
	l.mu.Unlock()
	if fs == nil {
		return nil
	}
	return fs.Close()
}

// release closes the open FileStorage, if any, keeping the lazyStorage
// usable. The caller makes sure nothing is using it (see closeIdleFiles).
func (l *lazyStorage) release() error {
	l.mu.Lock()
	fs := l.fs
	l.fs = nil
	l.mu.Unlock()
	if fs == nil {
		return nil
	}
	// Close syncs: its failure must outlive the FileStorage.
	return l.noteSync(fs.Close())
}

// newLazyStorage returns the lazy storage of t; closeErr is the error of
// closing the FileStorage it replaces, if any (a failed sync is kept).
func newLazyStorage(t *Torrent, wanted []bool, closeErr error) *lazyStorage {
	l := &lazyStorage{t: t, wanted: wanted}
	l.noteSync(closeErr)
	return l
}

// SetWanted changes the per-file wanted flags, now and for a later open.
func (l *lazyStorage) SetWanted(wanted []bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wanted = wanted
	if l.fs != nil {
		return l.fs.SetWanted(wanted)
	}
	return nil
}
