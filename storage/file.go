package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"shoal/metainfo"
)

// fileEntry is what FileStorage needs to know about one torrent file.
type fileEntry struct {
	rel     string // path below the download directory, OS separators; "" for padding
	display string // full path, for errors
	length  int64
	padding bool // BEP 47 'p': never on disk, reads as zeros
	symlink bool // BEP 47 'l': never created
	exec    bool // BEP 47 'x': created with execute permission
}

// FileStorage stores a torrent as regular files below a download directory.
// See the package doc for when files are created and how paths are checked.
// It is safe for concurrent use.
type FileStorage struct {
	rootDir string
	layout  *metainfo.Layout
	files   []fileEntry
	handles *handleCache
	syncMu  sync.Mutex // serialises Sync so each returns only after its data is durable

	// direct is set while writes may bypass the page cache (FileOptions.
	// DirectWrites); cleared for good when the file system refuses.
	direct      atomic.Bool
	directBytes atomic.Int64         // bytes written with O_DIRECT (for tests)
	gate        *atomic.Bool         // FileOptions.DirectWritesGate
	syncData    func(*os.File) error // fdatasync; a test replaces it to make syncs fail

	mu        sync.Mutex // guards the fields below
	root      *os.Root   // the download directory, opened on first use
	wanted    []bool     // per file; nil = all
	dirty     map[int]bool
	dirtyDirs map[string]bool // directories (relative, "." = root) with new entries
	closed    bool
	// syncErr is the first failed sync, kept for good: see Sync.
	syncErr error
}

var _ Storage = (*FileStorage)(nil)

// NewFileStorage returns a storage for info's files below root. It creates
// nothing on disk: files appear as pieces are written. Every file path is
// checked with info.FilePath; an unsafe one is an error.
func NewFileStorage(root string, info *metainfo.Info, o FileOptions) (*FileStorage, error) {
	if root == "" {
		return nil, errors.New("storage: empty download directory")
	}
	if o.Wanted != nil && len(o.Wanted) != len(info.Files) {
		return nil, fmt.Errorf("storage: %d wanted flags for %d files", len(o.Wanted), len(info.Files))
	}
	layout := metainfo.NewLayout(info)
	if layout.NumPieces() != len(info.Pieces) {
		return nil, fmt.Errorf("storage: %d piece hashes for %d pieces", len(info.Pieces), layout.NumPieces())
	}
	s := &FileStorage{
		rootDir:   root,
		layout:    layout,
		files:     make([]fileEntry, len(info.Files)),
		wanted:    slices.Clone(o.Wanted),
		dirty:     map[int]bool{},
		dirtyDirs: map[string]bool{},
	}
	for j, f := range info.Files {
		fe := &s.files[j]
		fe.length = f.Length
		fe.padding = f.IsPadding()
		fe.symlink = f.IsSymlink()
		fe.exec = f.IsExecutable()
		if fe.padding {
			continue
		}
		full, err := info.FilePath(root, j)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		rel, err := filepath.Rel(root, full)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("storage: file %d: %s is not inside %s", j, full, root)
		}
		fe.rel, fe.display = rel, full
	}
	limit := o.MaxOpenFiles
	if limit <= 0 {
		limit = DefaultMaxOpenFiles
	}
	s.direct.Store(o.DirectWrites)
	s.gate = o.DirectWritesGate
	s.syncData = fdatasync
	s.handles = newHandleCache(limit, s.openHandle)
	return s, nil
}

// SetWanted replaces the per-file wanted flags (nil = every file). It takes
// effect for the next WritePiece.
func (s *FileStorage) SetWanted(wanted []bool) error {
	if wanted != nil && len(wanted) != len(s.files) {
		return fmt.Errorf("storage: %d wanted flags for %d files", len(wanted), len(s.files))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wanted = slices.Clone(wanted)
	return nil
}

// PieceWanted reports whether piece touches a wanted file, i.e. whether
// WritePiece accepts it. A piece made only of padding counts as wanted.
func (s *FileStorage) PieceWanted(piece int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wanted == nil {
		return true
	}
	onlyPadding := true
	for _, sp := range s.layout.PieceSpans(piece) {
		if s.files[sp.File].padding {
			continue
		}
		onlyPadding = false
		if s.wanted[sp.File] {
			return true
		}
	}
	return onlyPadding
}

// checkRange validates a request for length bytes at begin within piece.
func (s *FileStorage) checkRange(op string, piece int, begin, length int64) error {
	size := s.layout.PieceSize(piece)
	if size == 0 {
		return fmt.Errorf("storage: %s piece %d: index out of range [0, %d)", op, piece, s.layout.NumPieces())
	}
	if begin < 0 || length < 0 || begin > size || length > size-begin {
		return fmt.Errorf("storage: %s piece %d: range [%d, %d) outside the piece's %d bytes",
			op, piece, begin, begin+length, size)
	}
	return nil
}

// ReadBlock implements Storage. Padding files read as zeros; data not on
// disk gives an error wrapping ErrMissing.
func (s *FileStorage) ReadBlock(piece int, begin int64, buf []byte) error {
	if err := s.checkRange("read", piece, begin, int64(len(buf))); err != nil {
		return err
	}
	off := s.layout.PieceOffset(piece) + begin
	var pos int64
	for _, sp := range s.layout.Spans(off, int64(len(buf))) {
		chunk := buf[pos : pos+sp.Length]
		pos += sp.Length
		fe := &s.files[sp.File]
		if fe.padding {
			clear(chunk)
			continue
		}
		if err := s.readSpan(fe, sp, chunk); err != nil {
			return fmt.Errorf("storage: read piece %d: %w", piece, err)
		}
	}
	return nil
}

func (s *FileStorage) readSpan(fe *fileEntry, sp metainfo.FileSpan, chunk []byte) error {
	h, err := s.handles.acquire(sp.File, false)
	if err != nil {
		return err
	}
	n, err := h.f.ReadAt(chunk, sp.Offset)
	s.handles.release(h)
	switch {
	case err == io.EOF || (err == nil && n < len(chunk)):
		// A sparse file ends at its last written byte: the rest is missing.
		return fmt.Errorf("%s: %d bytes at offset %d: file ends early: %w",
			fe.display, len(chunk), sp.Offset, ErrMissing)
	case err != nil:
		return fmt.Errorf("%s at offset %d: %w", fe.display, sp.Offset, unwrapPath(err))
	}
	return nil
}

// WritePiece implements Storage. The piece must be wanted (PieceWanted);
// padding files are skipped.
func (s *FileStorage) WritePiece(piece int, data []byte) error {
	size := s.layout.PieceSize(piece)
	if size == 0 {
		return fmt.Errorf("storage: write piece %d: index out of range [0, %d)", piece, s.layout.NumPieces())
	}
	if int64(len(data)) != size {
		return fmt.Errorf("storage: write piece %d: %d bytes, the piece has %d", piece, len(data), size)
	}
	if !s.PieceWanted(piece) {
		return fmt.Errorf("storage: write piece %d: %w", piece, ErrNotWanted)
	}
	if err := s.failedSync(); err != nil {
		// Refused so that the engine stops the torrent with this error
		// rather than go on verifying pieces it can never record.
		return fmt.Errorf("storage: write piece %d: %w", piece, err)
	}
	var pos int64
	for _, sp := range s.layout.PieceSpans(piece) {
		chunk := data[pos : pos+sp.Length]
		pos += sp.Length
		fe := &s.files[sp.File]
		if fe.padding {
			continue
		}
		h, err := s.handles.acquire(sp.File, true)
		if err != nil {
			return fmt.Errorf("storage: write piece %d: %w", piece, err)
		}
		err = s.writeSpan(h, chunk, sp.Offset)
		s.handles.release(h)
		// Marked after the write: a Sync that starts after WritePiece
		// returns must see the file as dirty, and one that took its
		// snapshot between our write and this line leaves it for the next.
		s.markDirty(sp.File)
		if err != nil {
			return fmt.Errorf("storage: write piece %d: %s at offset %d: %w",
				piece, fe.display, sp.Offset, unwrapPath(err))
		}
	}
	return nil
}

// CreateEmptyFiles creates the wanted zero-length files, which belong to no
// piece and so are never written by WritePiece. The engine calls it when
// the torrent completes. Padding and BEP 47 symlink entries are skipped.
func (s *FileStorage) CreateEmptyFiles() error {
	s.mu.Lock()
	wanted := s.wanted
	s.mu.Unlock()
	for j := range s.files {
		fe := &s.files[j]
		if fe.length != 0 || fe.padding || fe.symlink || (wanted != nil && !wanted[j]) {
			continue
		}
		h, err := s.handles.acquire(j, true)
		if err != nil {
			return fmt.Errorf("storage: create empty file: %w", err)
		}
		s.handles.release(h)
	}
	return nil
}

func (s *FileStorage) markDirty(file int) {
	s.mu.Lock()
	s.dirty[file] = true
	s.mu.Unlock()
}

func (s *FileStorage) markDirDirty(dir string) {
	s.mu.Lock()
	s.dirtyDirs[dir] = true
	s.mu.Unlock()
}

// ErrSyncFailed is wrapped by the errors of Sync and WritePiece once a sync
// of the storage has failed.
var ErrSyncFailed = errors.New("sync failed: data written since the last good sync may be lost")

// Sync implements Storage: it fdatasyncs every file written since the last
// Sync, then fsyncs the directories in which files or directories were
// created, so that the new names survive a crash too.
//
// A failed sync is final for this FileStorage: every later Sync returns
// the first failure, and WritePiece refuses to write. After a write-back
// error Linux reports the error to one fsync and then forgets it (the
// pages are marked clean, their data possibly lost), so a second Sync
// would succeed and the engine would record as verified pieces that are
// no longer on disk. Opening the storage again (starting the torrent
// again) rechecks the files changed since the last good resume record.
func (s *FileStorage) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.syncErr != nil {
		s.mu.Unlock()
		return s.syncErr
	}
	files, dirs := s.dirty, s.dirtyDirs
	s.dirty, s.dirtyDirs = map[int]bool{}, map[string]bool{}
	root := s.root
	s.mu.Unlock()

	var errs []error
	for _, j := range sortedKeys(files) {
		if err := s.syncFile(j); err != nil {
			if errors.Is(err, ErrClosed) {
				return ErrClosed // closed meanwhile: Close synced
			}
			errs = append(errs, err)
		}
	}
	// Deepest first is not needed: each directory entry is synced on its own.
	for _, d := range sortedKeys(dirs) {
		if err := syncDir(root, d); err != nil {
			errs = append(errs, fmt.Errorf("storage: sync directory %s: %w", filepath.Join(s.rootDir, d), unwrapPath(err)))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := fmt.Errorf("%w: %w", ErrSyncFailed, errors.Join(errs...))
	s.mu.Lock()
	s.syncErr = err
	s.mu.Unlock()
	return err
}

// failedSync returns the sticky sync error, if any.
func (s *FileStorage) failedSync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncErr
}

func (s *FileStorage) syncFile(j int) error {
	// A file evicted from the cache since it was written is reopened:
	// fsync flushes the file's dirty pages whichever descriptor wrote them.
	h, err := s.handles.acquire(j, false)
	if err != nil {
		return fmt.Errorf("storage: sync: %w", err)
	}
	err = s.syncData(h.f)
	s.handles.release(h)
	if err != nil {
		return fmt.Errorf("storage: sync %s: %w", s.files[j].display, err)
	}
	return nil
}

func syncDir(root *os.Root, dir string) error {
	if runtime.GOOS == "windows" {
		// Windows cannot flush a directory handle (it needs write access
		// to one); NTFS journals the new names itself.
		return nil
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !dirSyncUnsupported(err) {
		return err
	}
	return nil
}

// dirSyncUnsupported reports whether err says that the file system cannot
// fsync a directory (some network and FUSE file systems): a new file name
// is then as durable as that file system makes it, and a failed sync of a
// directory must not stop a download there for good.
func dirSyncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, errors.ErrUnsupported)
}

func sortedKeys[K int | string](m map[K]bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Close implements Storage: it syncs, then closes every file handle. Reads
// and writes still in progress finish first (their handles close on release).
func (s *FileStorage) Close() error {
	err := s.Sync()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	s.handles.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
	return err
}

// OpenFiles returns how many file handles are open right now (the download
// directory's own handle not counted); never more than MaxOpenFiles.
func (s *FileStorage) OpenFiles() int { return s.handles.count() }
