package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"shoal/bitfield"
	"shoal/internal/filemap"
	"shoal/metainfo"
)

// verifyChunk is how much of a piece a worker reads at once through
// ReadBlock, so that memory stays at workers × verifyChunk however long the
// pieces are.
const verifyChunk = 256 << 10

// Verify hashes every piece of info found in st and returns the set of
// pieces whose data matches its SHA-1. Pieces whose data is missing
// (ErrMissing) are simply not set; any other read error stops the check
// and is returned. workers goroutines (0 = runtime.NumCPU()) each claim the
// next piece and read it in chunks through st.ReadBlock, or, when st is a
// *FileStorage, hash it straight from a memory mapping of its files (a
// window of filemap.DefaultWindow per worker; a file truncated meanwhile
// leaves its pieces unverified). progress, if not
// nil, is called on the calling goroutine after each piece with the number
// checked so far and the total. When ctx ends, Verify returns ctx.Err()
// after every worker has stopped.
func Verify(ctx context.Context, st Storage, info *metainfo.Info, workers int,
	progress func(done, total int)) (*bitfield.Bitfield, error) {
	return VerifyPieces(ctx, st, info, nil, workers, progress)
}

// VerifyPieces is Verify for the listed pieces only (nil: every piece);
// the returned bitfield covers the whole torrent but can have only listed
// pieces set. A resumed torrent uses it to recheck the pieces of files that
// changed since its resume data was saved.
func VerifyPieces(ctx context.Context, st Storage, info *metainfo.Info, pieces []int, workers int,
	progress func(done, total int)) (*bitfield.Bitfield, error) {
	layout := metainfo.NewLayout(info)
	numPieces := layout.NumPieces()
	if numPieces != len(info.Pieces) {
		return nil, fmt.Errorf("storage: verify: %d piece hashes for %d pieces", len(info.Pieces), numPieces)
	}
	if pieces == nil {
		pieces = make([]int, numPieces)
		for i := range pieces {
			pieces[i] = i
		}
	}
	for _, i := range pieces {
		if i < 0 || i >= numPieces {
			return nil, fmt.Errorf("storage: verify: no piece %d of %d", i, numPieces)
		}
	}
	total := len(pieces)
	if total == 0 {
		return bitfield.New(numPieces), nil
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(min(workers, total), 1)

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64 // next piece to claim
		verified = make([]bool, total)
		done     = make(chan struct{}, workers)
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	// A FileStorage is hashed straight from memory mappings of its files
	// (see hashMapped); any other Storage through ReadBlock.
	fileStorage, _ := st.(*FileStorage)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				buf    []byte
				viewer *filemap.Viewer
				digest = sha1.New()
			)
			if fileStorage != nil {
				viewer = filemap.NewViewer(filemap.DefaultWindow)
				defer viewer.Close()
			} else {
				buf = make([]byte, min(verifyChunk, layout.PieceLength()))
			}
			for ctx.Err() == nil {
				claim := int(next.Add(1) - 1)
				if claim >= total {
					return
				}
				i := pieces[claim]
				var ok bool
				var err error
				if fileStorage != nil {
					ok, err = fileStorage.hashMapped(ctx, viewer, digest, info.Pieces[i], i)
				} else {
					ok, err = checkPiece(ctx, st, layout, info.Pieces[i], i, buf)
				}
				if err != nil {
					fail(err)
					return
				}
				verified[claim] = ok
				select {
				case done <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	count := 0
	for range done {
		count++
		if progress != nil {
			progress(count, total)
		}
	}
	// wg.Wait has returned (done is closed): every worker has stopped.
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	bf := bitfield.New(numPieces)
	for claim, ok := range verified {
		if ok {
			bf.Set(pieces[claim])
		}
	}
	return bf, nil
}

// checkPiece reports whether piece i in st hashes to want.
func checkPiece(ctx context.Context, st Storage, layout *metainfo.Layout, want metainfo.PieceHash,
	i int, buf []byte) (bool, error) {
	h := sha1.New()
	size := layout.PieceSize(i)
	for begin := int64(0); begin < size; {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n := min(int64(len(buf)), size-begin)
		if err := st.ReadBlock(i, begin, buf[:n]); err != nil {
			if errors.Is(err, ErrMissing) {
				return false, nil
			}
			return false, err
		}
		h.Write(buf[:n])
		begin += n
	}
	var got metainfo.PieceHash
	h.Sum(got[:0])
	return got == want, nil
}

// zeros is what padding files hash as (BEP 47); only ever read.
var zeros [verifyChunk]byte

// hashMapped reports whether piece i hashes to want, reading the piece's
// file regions through viewer (one per worker) instead of copying them
// with pread: the copy out of the page cache cost as much CPU as a third
// of the hashing itself (see internal/filemap). Data not on disk, and a
// file truncated while it is being hashed, make the piece unverified.
func (s *FileStorage) hashMapped(ctx context.Context, viewer *filemap.Viewer, digest hash.Hash,
	want metainfo.PieceHash, i int) (bool, error) {
	digest.Reset()
	var spanErr error
	err := filemap.Guard(func() error {
		for _, sp := range s.layout.PieceSpans(i) {
			if s.files[sp.File].padding {
				for left := sp.Length; left > 0; {
					n := min(left, int64(len(zeros)))
					digest.Write(zeros[:n])
					left -= n
				}
				continue
			}
			data, err := viewer.View(sp.File, sp.Offset, sp.Length, func() (*os.File, func(), error) {
				h, err := s.handles.acquire(sp.File, false)
				if err != nil {
					return nil, nil, err
				}
				return h.f, func() { s.handles.release(h) }, nil
			})
			if err != nil {
				spanErr = err
				return nil
			}
			// Hash in chunks so that a long piece still notices ctx.
			for len(data) > 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				n := min(len(data), verifyChunk*4)
				digest.Write(data[:n])
				data = data[n:]
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, filemap.ErrFault), errors.Is(spanErr, ErrMissing), errors.Is(spanErr, filemap.ErrShort):
		return false, nil
	case err != nil:
		return false, err
	case spanErr != nil:
		return false, fmt.Errorf("storage: verify piece %d: %w", i, spanErr)
	}
	var got metainfo.PieceHash
	digest.Sum(got[:0])
	return got == want, nil
}
