package engine

import (
	"sync"

	"shoal/storage"
)

// lazyStorage is the storage of an idle seeding torrent: it holds no open
// file and none of FileStorage's tables until something reads or writes,
// then opens a FileStorage and keeps it until release. Thousands of idle
// torrents thus cost neither descriptors nor the memory of their storage.
type lazyStorage struct {
	t      *Torrent // for the save path and files; read-only fields
	wanted []bool   // per file, when the storage was made

	mu     sync.Mutex
	fs     *storage.FileStorage // nil until used, and after release
	closed bool
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

// Sync syncs what was written; nothing was if the storage is not open.
func (l *lazyStorage) Sync() error {
	l.mu.Lock()
	fs := l.fs
	l.mu.Unlock()
	if fs == nil {
		return nil
	}
	return fs.Sync()
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
	return fs.Close()
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
