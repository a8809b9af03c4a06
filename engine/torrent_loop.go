package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"shoal/bitfield"
	"shoal/engine/picker"
	"shoal/storage"
)

// rechokeTicks is how often, in one-second ticks, the choker runs (BEP 3's
// reference client rechokes every 10 s).
const rechokeTicks = 10

// checkResult is the outcome of the start-up check of existing data.
type checkResult struct {
	gen  int // which start it belongs to: a stopped check may still report
	have *bitfield.Bitfield
	rec  *storage.ResumeRecord // the saved record, if it was used
	// dirty is set when the store's record is out of date: there was none
	// to trust, or some files changed since it was saved.
	dirty bool
	err   error
}

// run is the torrent's first loop goroutine: it records a new torrent,
// starts it if asked, and runs the loop.
func (t *Torrent) run(start bool) {
	if t.restored == nil {
		t.recordNew()
	}
	if start {
		t.start()
	}
	t.loop()
}

// loop is the torrent's loop: the only goroutine that touches its state.
// An idle torrent's loop parks (its goroutine ends) and wake starts it
// again when a call, a connection or the end of the session needs it; see
// torrent_idle.go. Only one loop goroutine runs at a time.
func (t *Torrent) loop() {
	for {
		t.schedule()
		if t.park() {
			return
		}
		select {
		case f := <-t.cmdC:
			f()
		case hc := <-t.connC:
			t.leave() // deliverConn's enter
			t.ensurePeerChans()
			t.addPeer(hc)
		case ev := <-t.eventC: // nil until the first peer
			t.handleEvent(ev)
		case r := <-t.pieceC: // nil until the first peer
			t.pieceDone(r)
		case r := <-t.checkC:
			t.leave() // the check's enter
			t.checkDone(r)
		case r := <-t.dialC:
			t.ensurePeerChans()
			t.dialDone(r)
		case addrs := <-t.foundC:
			t.addKnown(addrs, false)
			t.ensurePeerChans()
			t.connectMore(time.Now())
		case err := <-t.resumeC:
			t.leave() // the resume writer's enter
			t.savingResume = false
			if err != nil {
				t.saved.ok = false
				t.s.log.Warn("saving resume data", "torrent", t.info.Name, "err", err)
				if errors.Is(err, storage.ErrSyncFailed) && t.state != StateStopped && t.state != StateError {
					// The data may not be on disk and the record can no
					// longer be updated: stop, as after a failed write.
					t.stop(StateError, fmt.Errorf("saving resume data: %w", err))
				}
			}
		case <-t.memFreedC: // nil unless a piece was refused memory
			t.memFreedC = nil
			for _, p := range t.peers {
				t.fillRequests(p)
			}
		case now := <-t.tickC():
			t.tickAt = time.Time{}
			t.tick(now)
		case <-t.ctx.Done():
			t.stop(StateStopped, nil)
			t.end()
			return
		}
	}
}

// active reports whether the torrent is exchanging pieces.
func (t *Torrent) active() bool {
	return t.state == StateDownloading || t.state == StateSeeding
}

// start opens the storage and checks existing data in the background.
func (t *Torrent) start() {
	if t.state != StateStopped && t.state != StateError {
		return
	}
	st, err := storage.NewFileStorage(t.savePath, t.diskInfo, t.fileOptions(t.wantedFiles()))
	if err != nil {
		t.state, t.err = StateError, err
		return
	}
	t.st, t.state, t.err = st, StateChecking, nil
	t.paused = false
	rec := t.restored // used once: a later start reads the store again
	t.restored = nil
	t.checkGen++
	gen := t.checkGen
	for _, kp := range t.known {
		kp.nextTry = time.Time{} // a new start tries every address again
	}
	// Not a child of t.ctx, which would keep a table of children for good;
	// stop, which runs whenever t.ctx ends, cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	t.checkCancel = cancel
	t.s.queueCheck(func() {
		if ctx.Err() != nil {
			return // stopped while queued
		}
		r := t.check(ctx, st, rec)
		r.gen = gen
		leave := t.enter() // the loop may have parked meanwhile; it calls leave on receipt
		select {
		case t.checkC <- r:
		case <-ctx.Done():
			leave()
		}
	})
}

// check finds which pieces are already on disk. With a valid resume record
// only the pieces of files whose size or modification time changed since it
// was saved are read again; otherwise every piece is verified. rec is the
// record a restored torrent came with; nil: look in the store.
func (t *Torrent) check(ctx context.Context, st storage.Storage, saved *storage.ResumeRecord) checkResult {
	n := t.info.NumPieces()
	workers := t.s.cfg.HashWorkers
	t.checked.Store(0)
	progress := func(done, _ int) { t.checked.Store(int64(done)) }
	if t.s.resume != nil {
		var (
			rec storage.ResumeRecord
			ok  bool
			err error
		)
		if saved != nil {
			rec, ok = *saved, true
		} else if rec, ok, err = t.s.resume.Load(t.infoHash); err != nil {
			t.s.log.Warn("loading resume data", "torrent", t.info.Name, "err", err)
		}
		if ok && rec.SavePath == t.savePath && rec.NumPieces == n && bytes.Equal(rec.InfoBytes, t.mi.InfoBytes) {
			have, err := bitfield.FromBytes(rec.Verified, n)
			if err == nil {
				now := storage.CurrentFileStates(t.savePath, t.diskInfo)
				recheck := storage.PiecesToRecheck(t.info, rec.Files, now)
				if len(recheck) == 0 {
					return checkResult{have: have, rec: &rec}
				}
				good, err := storage.VerifyPieces(ctx, st, t.info, recheck, workers, progress)
				if err != nil {
					return checkResult{err: err}
				}
				for _, i := range recheck {
					if good.Has(i) {
						have.Set(i)
					} else {
						have.Clear(i)
					}
				}
				return checkResult{have: have, rec: &rec, dirty: true}
			}
		}
	}
	have, err := storage.Verify(ctx, st, t.info, workers, progress)
	return checkResult{have: have, dirty: true, err: err}
}

func (t *Torrent) checkDone(r checkResult) {
	if t.state != StateChecking || r.gen != t.checkGen {
		return // the check of an earlier start, stopped since
	}
	t.checkCancel()
	if r.err != nil {
		t.stop(StateError, fmt.Errorf("checking existing data: %w", r.err))
		return
	}
	t.have = r.have
	t.counters.verifiedAtStart = r.have.Count()
	t.fileHaveBytes = make([]int64, len(t.info.Files))
	for i := t.have.NextSet(0); i >= 0; i = t.have.NextSet(i + 1) {
		t.countVerified(i)
	}
	if !t.counters.everLoaded {
		// Only at the first start: the record a later start reads
		// (after Stop, or an error) already counts this session's bytes.
		t.counters.everLoaded = true
		if r.rec != nil {
			t.counters.downloadedEver = r.rec.Downloaded
			t.counters.uploadedEver = r.rec.Uploaded
		}
	}
	if r.rec != nil {
		t.counters.completedAt = r.rec.CompletedAt
		if !r.dirty {
			// The store holds exactly this: no save is needed until
			// something changes.
			t.noteSaved(*r.rec)
		}
	}
	t.picker = picker.New(t.layout, picker.Options{})
	for i := t.have.NextSet(0); i >= 0; i = t.have.NextSet(i + 1) {
		t.picker.SetHave(i)
	}
	t.picker.SetSequential(t.sequential)
	t.resumeDirty = r.dirty // before applyPriorities, which may complete the torrent and save
	t.applyPriorities()
	t.state = StateDownloading
	t.checkComplete()
	t.initSuperSeed()
	t.startSources()
	waiting := t.waiting
	t.waiting = nil
	if len(waiting) > 0 {
		t.ensurePeerChans()
	}
	for _, hc := range waiting {
		t.addPeer(hc)
	}
	if len(t.known) > 0 {
		t.ensurePeerChans()
		t.connectMore(time.Now())
	}
}

// stop ends every connection, saves resume data and closes the files.
// It runs on the loop, and is also how the loop ends.
func (t *Torrent) stop(state State, err error) {
	if t.checkCancel != nil {
		t.checkCancel()
	}
	if t.stopSources != nil {
		t.stopSources()
		t.stopSources = nil
	}
	for _, p := range t.peers {
		t.dropPeer(p, err)
	}
	for _, hc := range t.waiting {
		hc.nc.Close()
	}
	t.waiting = nil
	for i, pb := range t.pieces {
		t.releasePiece(i, pb)
	}
	// Stopped by the user (not by the session closing or an error): the
	// torrent stays stopped after a restart.
	t.paused = state == StateStopped && err == nil && t.ctx.Err() == nil
	if t.st != nil {
		if t.have != nil && t.state != StateChecking {
			t.saveResumeNow()
		}
		t.st.Close()
		t.st = nil
	}
	t.picker = nil
	t.state, t.err = state, err
	if err != nil {
		t.s.log.Warn("torrent stopped", "torrent", t.info.Name, "err", err)
	}
}

// tick runs once a second: rates, request timeouts, choking, resume data
// and new connections.
func (t *Torrent) tick(now time.Time) {
	t.ticks++
	if !t.active() {
		return
	}
	t.sampleRates(now)
	t.expireRequests(now)
	// Requests are normally topped up as blocks arrive; this also restarts
	// a peer whose every request was rejected.
	for _, p := range t.peers {
		t.fillRequests(p)
	}
	if t.ticks%rechokeTicks == 0 && t.choker != nil {
		t.rechoke(now)
	}
	t.superSeedTick()
	t.pexTick(now)
	if t.resumeDirty && !t.savingResume && t.ticks%int(max(1, t.s.cfg.ResumeInterval/time.Second)) == 0 {
		t.saveResume()
	}
	t.connectMore(now)
}

// wantedFiles reports, per file, whether it is to be downloaded.
func (t *Torrent) wantedFiles() []bool {
	w := make([]bool, len(t.filePrio))
	for i, p := range t.filePrio {
		w[i] = p != PrioritySkip
	}
	return w
}

// applyPriorities passes the file priorities to the picker as piece
// priorities: a piece takes the highest priority of the files it touches.
func (t *Torrent) applyPriorities() {
	if t.picker == nil {
		return
	}
	prio := make([]picker.Priority, t.info.NumPieces())
	for i := range prio {
		prio[i] = picker.Skip
	}
	for f, p := range t.filePrio {
		if t.info.Files[f].IsPadding() {
			continue // BEP 47 padding is never wanted for itself
		}
		first, end := t.layout.FilePieces(f)
		pp := toPickerPriority(p)
		for i := first; i < end; i++ {
			if pp > prio[i] {
				prio[i] = pp
			}
		}
	}
	for i, p := range prio {
		t.picker.SetPriority(i, p)
	}
	// The storage writes only wanted files: a file no longer skipped must
	// be writable.
	if sw, ok := t.st.(interface{ SetWanted([]bool) error }); ok {
		if err := sw.SetWanted(t.wantedFiles()); err != nil {
			t.s.log.Warn("setting wanted files", "torrent", t.info.Name, "err", err)
		}
	}
	for _, p := range t.peers {
		t.updateInterest(p)
	}
	t.checkComplete()
}

func toPickerPriority(p Priority) picker.Priority {
	switch p {
	case PrioritySkip:
		return picker.Skip
	case PriorityHigh:
		return picker.High
	}
	return picker.Normal
}

// checkComplete closes completeC once every wanted piece is verified.
func (t *Torrent) checkComplete() {
	if t.have == nil || t.picker == nil {
		return
	}
	// The picker counts the wanted pieces we lack, so this costs nothing
	// on each verified piece.
	if t.picker.NumWanted() > 0 {
		if t.state == StateSeeding {
			t.state = StateDownloading
		}
		return
	}
	if t.state == StateDownloading {
		t.state = StateSeeding
	}
	if !t.completed {
		// Empty files first: whoever waits on completeC may look at the
		// files at once.
		if ec, ok := t.st.(emptyFileCreator); ok {
			if err := ec.CreateEmptyFiles(); err != nil {
				t.stop(StateError, err)
				return
			}
		}
		t.completed = true
		close(t.completeC)
		if t.counters.completedAt.IsZero() {
			t.counters.completedAt = time.Now()
			t.resumeDirty = true
		}
		if t.resumeDirty {
			t.saveResume()
		}
	}
}

// emptyFileCreator is storage that creates zero-length files on request:
// they hold no piece, so writing pieces never creates them.
type emptyFileCreator interface{ CreateEmptyFiles() error }

// stats builds a Stats snapshot.
func (t *Torrent) stats() Stats {
	st := Stats{
		State:           t.state,
		Err:             t.err,
		Pieces:          t.info.NumPieces(),
		VerifiedAtStart: t.counters.verifiedAtStart,
		CheckedPieces:   int(t.checked.Load()),
		DownloadRate:    t.counters.downRate,
		UploadRate:      t.counters.upRate,
		Downloaded:      t.counters.downloaded,
		Uploaded:        t.counters.uploaded,
		DownloadedEver:  t.counters.downloadedEver + t.counters.downloaded,
		UploadedEver:    t.counters.uploadedEver + t.counters.uploaded,
		Wasted:          t.counters.wasted,
		Peers:           len(t.peers),
		KnownPeers:      len(t.known),
		CompletedAt:     t.counters.completedAt,
	}
	for i, f := range t.info.Files {
		st.TotalSize += f.Length
		if t.filePrio[i] != PrioritySkip && !f.IsPadding() {
			st.WantedSize += f.Length
			st.HaveWanted += t.fileHave(i)
		}
	}
	if t.have != nil {
		st.PiecesHave = t.have.Count()
	}
	if st.WantedSize > 0 {
		st.Progress = float64(st.HaveWanted) / float64(st.WantedSize)
	} else if t.completed {
		st.Progress = 1
	}
	for _, p := range t.peers {
		if p.isSeed(t.info.NumPieces()) {
			st.Seeds++
		}
		// Bytes moved since the last one-second sample, so the counters
		// are exact at any moment.
		cs := p.conn.Stats()
		st.Downloaded += cs.PayloadReceived - p.lastDown
		st.Uploaded += cs.PayloadSent - p.lastUp
	}
	st.DownloadedEver = t.counters.downloadedEver + st.Downloaded
	st.UploadedEver = t.counters.uploadedEver + st.Uploaded
	return st
}

// fileHave returns the verified bytes of file i.
func (t *Torrent) fileHave(i int) int64 {
	if t.fileHaveBytes == nil {
		return 0
	}
	return t.fileHaveBytes[i]
}

// countVerified adds a verified piece's bytes to the files it covers, so
// Stats and Files cost nothing per piece (they are asked for twice a
// second while a download shows its progress).
func (t *Torrent) countVerified(piece int) {
	for _, sp := range t.layout.PieceSpans(piece) {
		t.fileHaveBytes[sp.File] += sp.Length
	}
}

func errIndex(i int) error { return fmt.Errorf("engine: no file %d", i) }
