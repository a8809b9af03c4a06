package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"shoal/bencode"
	"shoal/bitfield"
	"shoal/metainfo"
)

// The database holds two buckets: "meta" with the format version of the
// whole store, and "torrents" with one record per torrent keyed by its
// 20-byte info hash. Each record is a bencoded dictionary that carries its
// own "format" number as well, so that a later version can convert old
// records one by one and an older build refuses newer ones instead of
// misreading them.
var (
	metaBucket     = []byte("meta")
	torrentsBucket = []byte("torrents")
	formatKey      = []byte("format")
)

// resumeFormat is the version of the store and of its records.
const resumeFormat = 1

// maxRecordSize bounds one record when decoding; info dictionaries of real
// torrents stay far below it.
const maxRecordSize = 64 << 20

// ResumeRecord is everything needed to resume one torrent after a restart.
type ResumeRecord struct {
	InfoHash    metainfo.InfoHash
	InfoBytes   []byte      // the bencoded info dictionary
	SavePath    string      // the download directory
	NumPieces   int         // length of Verified in pieces
	Verified    []byte      // verified pieces, bitfield wire form (BEP 3)
	Files       []FileState // size and mtime of each file when Verified was saved
	Priorities  []int8      // per file
	Uploaded    int64       // payload bytes ever uploaded
	Downloaded  int64       // payload bytes ever downloaded
	AddedAt     time.Time   // zero if unknown
	CompletedAt time.Time   // zero if not complete
	Paused      bool
	Sequential  bool
	// ContentName is the name of the torrent's file or top directory on
	// disk when it differs from the torrent's name; empty otherwise.
	ContentName string
	// Trackers are the tracker tiers (BEP 12) and WebSeeds the web seeds
	// (BEP 19) of the .torrent the torrent was added from: the info
	// dictionary alone does not hold them.
	Trackers [][]string
	WebSeeds []string
}

// resumeWire is ResumeRecord as stored. Times are Unix nanoseconds, 0 for
// the zero time.
type resumeWire struct {
	Format      int64      `bencode:"format"`
	InfoHash    []byte     `bencode:"info hash"`
	InfoBytes   []byte     `bencode:"info"`
	SavePath    string     `bencode:"save path"`
	NumPieces   int64      `bencode:"pieces"`
	Verified    []byte     `bencode:"verified"`
	Files       []fileWire `bencode:"files"`
	Priorities  []int8     `bencode:"priorities"`
	Uploaded    int64      `bencode:"uploaded"`
	Downloaded  int64      `bencode:"downloaded"`
	AddedAt     int64      `bencode:"added"`
	CompletedAt int64      `bencode:"completed"`
	Paused      bool       `bencode:"paused"`
	Sequential  bool       `bencode:"sequential"`
	ContentName string     `bencode:"content name,omitempty"`
	Trackers    [][]string `bencode:"trackers,omitempty"`
	WebSeeds    []string   `bencode:"web seeds,omitempty"`
}

type fileWire struct {
	Size    int64 `bencode:"size"`
	ModTime int64 `bencode:"mtime"`
}

// ResumeStore keeps resume records in one bbolt database file. It is safe
// for concurrent use.
type ResumeStore struct {
	db   *bolt.DB
	path string
}

// OpenResumeStore opens (creating if needed) the database at path. A file
// that is not a bbolt database, or one written by a newer format, gives an
// error that says so; a database locked by another process gives up after
// a second instead of hanging.
func OpenResumeStore(path string) (*ResumeStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("storage: resume store %s is locked (is another instance running?): %w", path, err)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("storage: resume store %s is corrupt or not a bbolt database: %w", path, err)
		}
		return nil, fmt.Errorf("storage: open resume store %s: %w", path, err)
	}
	s := &ResumeStore{db: db, path: path}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := meta.Get(formatKey); v != nil {
			got, err := strconv.Atoi(string(v))
			if err != nil || got != resumeFormat {
				return fmt.Errorf("format version %q, this build reads %d", v, resumeFormat)
			}
		} else if err := meta.Put(formatKey, []byte(strconv.Itoa(resumeFormat))); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(torrentsBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: resume store %s: %w", path, err)
	}
	return s, nil
}

// OpenResumeStoreReadOnly opens an existing database at path for reading
// only: it creates nothing, takes a shared lock (several readers may hold
// it, a writer may not) and every Save or Delete fails. It is how a tool
// or a test inspects the records of a client that is not running, for
// example after the client was killed, without changing them. A database
// that a killed client created but never initialised holds no records; an
// empty file (killed before bbolt wrote anything) is reported as not
// existing yet, with an error wrapping fs.ErrNotExist.
func OpenResumeStoreReadOnly(path string) (*ResumeStore, error) {
	// bbolt would try to initialise an empty file, which a read-only open
	// cannot do.
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return nil, fmt.Errorf("storage: resume store %s is empty (never initialised): %w", path, fs.ErrNotExist)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("storage: resume store %s is locked by a writer: %w", path, err)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("storage: resume store %s is corrupt or not a bbolt database: %w", path, err)
		}
		return nil, fmt.Errorf("storage: open resume store %s read-only: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			return nil // created but not initialised: no records
		}
		if v := meta.Get(formatKey); v != nil {
			if got, err := strconv.Atoi(string(v)); err != nil || got != resumeFormat {
				return fmt.Errorf("format version %q, this build reads %d", v, resumeFormat)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: resume store %s: %w", path, err)
	}
	return &ResumeStore{db: db, path: path}, nil
}

// torrentRecords returns the bucket of records; nil only in a read-only
// store whose writer never got as far as creating it.
func torrentRecords(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(torrentsBucket) }

// Save stores rec, replacing any record for the same info hash. Concurrent
// Saves are coalesced into one transaction (bbolt's Batch), so saving after
// every piece costs one fsync per batch, not per call.
func (s *ResumeStore) Save(rec ResumeRecord) error {
	data, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	err = s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(torrentsBucket).Put(rec.InfoHash[:], data)
	})
	if err != nil {
		return fmt.Errorf("storage: save resume %s in %s: %w", rec.InfoHash, s.path, err)
	}
	return nil
}

// SaveNew stores rec only if the store holds no record for its info hash
// yet, and reports whether it did. A client saves a torrent this way when
// it is added, so that it survives a restart even if it never ran, without
// overwriting what an earlier session knew about the same torrent.
func (s *ResumeStore) SaveNew(rec ResumeRecord) (bool, error) {
	data, err := encodeRecord(rec)
	if err != nil {
		return false, err
	}
	var saved bool
	err = s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this function again after a failed batch: decide
		// afresh each time.
		saved = false
		b := tx.Bucket(torrentsBucket)
		if b.Get(rec.InfoHash[:]) != nil {
			return nil
		}
		saved = true
		return b.Put(rec.InfoHash[:], data)
	})
	if err != nil {
		return false, fmt.Errorf("storage: save resume %s in %s: %w", rec.InfoHash, s.path, err)
	}
	return saved, nil
}

// BatchRecord is one record of a SaveAll.
type BatchRecord struct {
	Record ResumeRecord
	// IfAbsent stores the record only if the store has none for its info
	// hash (see SaveNew).
	IfAbsent bool
}

// SaveAll stores many records in one transaction: one fsync for all, which
// is what lets a client save thousands of torrents at once (after adding
// them, or when they complete together). Either every record is stored or,
// on error, none.
func (s *ResumeStore) SaveAll(batch []BatchRecord) error {
	data := make([][]byte, len(batch))
	for i, br := range batch {
		var err error
		if data[i], err = encodeRecord(br.Record); err != nil {
			return err
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(torrentsBucket)
		for i, br := range batch {
			ih := br.Record.InfoHash
			if br.IfAbsent && b.Get(ih[:]) != nil {
				continue
			}
			if err := b.Put(ih[:], data[i]); err != nil {
				return fmt.Errorf("record %s: %w", ih, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save %d resume records in %s: %w", len(batch), s.path, err)
	}
	return nil
}

// encodeRecord checks and bencodes rec.
func encodeRecord(rec ResumeRecord) ([]byte, error) {
	if _, err := bitfield.FromBytes(rec.Verified, rec.NumPieces); err != nil || rec.NumPieces < 0 {
		return nil, fmt.Errorf("storage: save resume %s: verified bitfield does not fit %d pieces: %v",
			rec.InfoHash, rec.NumPieces, err)
	}
	data, err := bencode.Marshal(toWire(rec))
	if err != nil {
		return nil, fmt.Errorf("storage: save resume %s: %w", rec.InfoHash, err)
	}
	return data, nil
}

// LoadAll returns every stored record, in info hash byte order, read in
// one transaction: a client restoring thousands of torrents at start-up
// pays one pass over the database. A record that cannot be decoded is left
// out and reported in the returned error (joined, one per record), so one
// corrupt record does not keep the others from being restored.
func (s *ResumeStore) LoadAll() ([]ResumeRecord, error) {
	var (
		out  []ResumeRecord
		errs []error
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := torrentRecords(tx)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var ih metainfo.InfoHash
			if len(k) != len(ih) {
				errs = append(errs, fmt.Errorf("storage: resume store %s: key of %d bytes, want %d", s.path, len(k), len(ih)))
				return nil
			}
			copy(ih[:], k)
			// Values are valid only inside the transaction: decoding copies
			// what it keeps.
			rec, err := decodeRecord(ih, bytes.Clone(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("storage: resume record %s in %s: %w", ih, s.path, err))
				return nil
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: load resume records from %s: %w", s.path, err)
	}
	return out, errors.Join(errs...)
}

// Load returns the record for ih; ok is false when there is none.
func (s *ResumeStore) Load(ih metainfo.InfoHash) (rec ResumeRecord, ok bool, err error) {
	var data []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		// Values are valid only inside the transaction.
		if b := torrentRecords(tx); b != nil {
			data = bytes.Clone(b.Get(ih[:]))
		}
		return nil
	})
	if err != nil {
		return ResumeRecord{}, false, fmt.Errorf("storage: load resume %s from %s: %w", ih, s.path, err)
	}
	if data == nil {
		return ResumeRecord{}, false, nil
	}
	rec, err = decodeRecord(ih, data)
	if err != nil {
		return ResumeRecord{}, false, fmt.Errorf("storage: resume record %s in %s: %w", ih, s.path, err)
	}
	return rec, true, nil
}

// Delete removes the record for ih; deleting a missing record is not an error.
func (s *ResumeStore) Delete(ih metainfo.InfoHash) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(torrentsBucket).Delete(ih[:])
	})
	if err != nil {
		return fmt.Errorf("storage: delete resume %s from %s: %w", ih, s.path, err)
	}
	return nil
}

// List returns the info hashes of every stored record, in byte order.
func (s *ResumeStore) List() ([]metainfo.InfoHash, error) {
	var out []metainfo.InfoHash
	err := s.db.View(func(tx *bolt.Tx) error {
		b := torrentRecords(tx)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var ih metainfo.InfoHash
			if len(k) != len(ih) {
				return fmt.Errorf("key of %d bytes, want %d", len(k), len(ih))
			}
			copy(ih[:], k)
			out = append(out, ih)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list resume records in %s: %w", s.path, err)
	}
	return out, nil
}

// Close closes the database.
func (s *ResumeStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close resume store %s: %w", s.path, err)
	}
	return nil
}

func toWire(rec ResumeRecord) resumeWire {
	w := resumeWire{
		Format:      resumeFormat,
		InfoHash:    rec.InfoHash[:],
		InfoBytes:   rec.InfoBytes,
		SavePath:    rec.SavePath,
		NumPieces:   int64(rec.NumPieces),
		Verified:    rec.Verified,
		Priorities:  rec.Priorities,
		Uploaded:    rec.Uploaded,
		Downloaded:  rec.Downloaded,
		AddedAt:     timeToWire(rec.AddedAt),
		CompletedAt: timeToWire(rec.CompletedAt),
		Paused:      rec.Paused,
		Sequential:  rec.Sequential,
		ContentName: rec.ContentName,
		Trackers:    rec.Trackers,
		WebSeeds:    rec.WebSeeds,
	}
	w.Files = make([]fileWire, len(rec.Files))
	for i, f := range rec.Files {
		w.Files[i] = fileWire(f)
	}
	return w
}

// decodeRecord decodes and checks a stored record for ih.
func decodeRecord(ih metainfo.InfoHash, data []byte) (ResumeRecord, error) {
	var w resumeWire
	if err := (bencode.DecodeOptions{MaxSize: maxRecordSize}).Unmarshal(data, &w); err != nil {
		return ResumeRecord{}, fmt.Errorf("corrupt: %w", err)
	}
	if w.Format != resumeFormat {
		return ResumeRecord{}, fmt.Errorf("format version %d, this build reads %d", w.Format, resumeFormat)
	}
	if !bytes.Equal(w.InfoHash, ih[:]) {
		return ResumeRecord{}, fmt.Errorf("corrupt: record holds info hash %x", w.InfoHash)
	}
	if w.NumPieces < 0 || w.NumPieces > 1<<31 {
		return ResumeRecord{}, fmt.Errorf("corrupt: %d pieces", w.NumPieces)
	}
	if _, err := bitfield.FromBytes(w.Verified, int(w.NumPieces)); err != nil {
		return ResumeRecord{}, fmt.Errorf("corrupt verified bitfield: %w", err)
	}
	rec := ResumeRecord{
		InfoHash:    ih,
		InfoBytes:   w.InfoBytes,
		SavePath:    w.SavePath,
		NumPieces:   int(w.NumPieces),
		Verified:    w.Verified,
		Priorities:  w.Priorities,
		Uploaded:    w.Uploaded,
		Downloaded:  w.Downloaded,
		AddedAt:     timeFromWire(w.AddedAt),
		CompletedAt: timeFromWire(w.CompletedAt),
		Paused:      w.Paused,
		Sequential:  w.Sequential,
		ContentName: w.ContentName,
		Trackers:    w.Trackers,
		WebSeeds:    w.WebSeeds,
	}
	rec.Files = make([]FileState, len(w.Files))
	for i, f := range w.Files {
		rec.Files[i] = FileState(f)
	}
	return rec, nil
}

func timeToWire(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeFromWire(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
