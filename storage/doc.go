// Package storage keeps a torrent's pieces on disk and remembers, across
// restarts, which of them are verified.
//
// # Pieces on disk
//
// Storage is what the engine reads blocks from (uploads, verification) and
// writes whole, already verified pieces to. FileStorage is the default
// backend: one regular file per torrent file, accessed with pread/pwrite
// (os.File ReadAt/WriteAt) through a bounded LRU cache of open handles.
//
//   - A file and its directories are created only when a piece that touches
//     the file is written. Files are sparse: nothing is preallocated, so a
//     file's size is the end of its last written byte until every piece in
//     it has been written. Reading a region that has not been written yet
//     (file absent, or shorter than the region) gives an error wrapping
//     ErrMissing, which Verify counts as "piece not verified".
//   - Zero-length files belong to no piece; FileStorage.CreateEmptyFiles
//     creates them, and the engine calls it when the torrent completes.
//   - BEP 47 padding files are never created; reads of them give zeros.
//     Files with BEP 47's symlink attribute are not created either: a
//     torrent must not make us plant symlinks.
//   - Skipped files (FileOptions.Wanted): a piece is wanted when it touches
//     at least one wanted file, and WritePiece refuses a piece that is not
//     (ErrNotWanted). A wanted piece is always written whole, including the
//     part that lies in an unwanted neighbour file, as Transmission does:
//     the piece is the unit that is verified and served, so the neighbour is
//     created, holding just those bytes. A file that shares no piece with a
//     wanted file is never created.
//   - Paths: every path comes from metainfo.Info.FilePath, which rejects
//     names that escape the download directory. All opens start from an
//     os.Root on the download directory. On Linux each component below it
//     is then opened with openat(2) and O_NOFOLLOW relative to its parent's
//     descriptor and checked with fstat on what was opened, so a symlink
//     (or a non-regular file) anywhere in the tree is refused with an error
//     that names the path, with no window between check and use: a symlink
//     planted inside the download directory, even one swapped in
//     mid-operation, cannot redirect our reads and writes, neither outside
//     nor to another place inside. Elsewhere every component is checked
//     with Lstat, and os.Root guarantees that a swap between the checks
//     still cannot lead outside. RemoveFiles deletes a torrent's data under
//     the same rules.
//   - Every error names the file (and piece) it concerns.
//
// # Durability
//
// WritePiece only writes: into the page cache, or with FileOptions.
// DirectWrites (the engine's default) the page-aligned blocks of a piece
// with O_DIRECT, which skips the cache's page allocation and copy (most of
// a downloader's CPU time on the machines measured) and keeps a large
// download from evicting everything else; the unaligned edges still go
// through the cache. Neither is durable by itself: Sync fdatasyncs every file
// written since the previous Sync, and the directories in which files were
// created. The engine calls Sync before it saves a resume record that marks
// those pieces verified, so after a crash every piece that the resume data
// records as verified is on disk. Close syncs too. A failed sync is final
// until the storage is opened again: Linux reports a write-back error to
// one fsync only, so a retried Sync could succeed while the data is lost;
// every later Sync returns the first error (ErrSyncFailed) and WritePiece
// refuses.
//
// # Verification and resume
//
// Verify hashes every piece on several goroutines; a piece whose data is
// missing is simply not verified. ResumeStore keeps one record per torrent
// in a bbolt database (info bytes, verified bitfield, file sizes and mtimes,
// priorities, counters). On restart, PiecesToRecheck compares the file
// states saved in the record with CurrentFileStates and names the pieces
// whose files changed behind our back.
//
// # Memory for pieces in flight
//
// Budget bounds the memory held by pieces being downloaded; see its doc for
// how a piece larger than the whole budget is still admitted.
package storage
