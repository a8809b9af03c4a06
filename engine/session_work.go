package engine

import (
	"sync"

	"shoal/storage"
)

// Work that thousands of torrents may ask for at the same moment (adding
// or restoring many at once, all completing their checks together) goes
// through two session-wide queues instead of a goroutine per torrent:
//
//   - checks of existing data run on at most checkWorkers goroutines;
//   - resume records are written by one goroutine, every record waiting
//     at that moment in one bbolt transaction (one fsync for all).
//
// Both goroutines exist only while they have work.

// checkWorkers returns how many torrents may check their data at once.
// Each check hashes on HashWorkers goroutines; a few checks in parallel keep
// the disk and the cores busy while small torrents do their file status
// calls.
func (s *Session) checkWorkers() int { return max(4, 2*s.cfg.HashWorkers) }

// sessionWork holds the session's queues.
type sessionWork struct {
	checkMu      sync.Mutex
	checkJobs    []func()
	checkRunning int

	// resumeMu also orders resume writes against Torrent.Remove, so that
	// a queued record of a removed torrent is never written after its
	// deletion.
	resumeMu      sync.Mutex
	resumeJobs    []resumeJob
	resumeWriting bool
}

// queueCheck runs job on a check worker.
func (s *Session) queueCheck(job func()) {
	w := &s.work
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	if w.checkRunning >= s.checkWorkers() {
		w.checkJobs = append(w.checkJobs, job)
		return
	}
	w.checkRunning++
	s.wg.Add(1)
	go s.checkWorker(job)
}

func (s *Session) checkWorker(job func()) {
	defer s.wg.Done()
	w := &s.work
	for {
		job()
		w.checkMu.Lock()
		if len(w.checkJobs) == 0 {
			w.checkJobs = nil // let the grown backing array go
			w.checkRunning--
			w.checkMu.Unlock()
			return
		}
		job = w.checkJobs[0]
		w.checkJobs[0] = nil
		w.checkJobs = w.checkJobs[1:]
		w.checkMu.Unlock()
	}
}

// resumeJob is one record to write.
type resumeJob struct {
	t *Torrent
	// st is synced before the record is written, so that the record never
	// claims data the disk does not hold; nil for a torrent's first
	// record, which claims nothing.
	st       storage.Storage
	rec      storage.ResumeRecord
	ifAbsent bool
	reply    bool // send the result to t.resumeC
}

// queueResume has the writer save a record.
func (s *Session) queueResume(j resumeJob) {
	w := &s.work
	w.resumeMu.Lock()
	defer w.resumeMu.Unlock()
	w.resumeJobs = append(w.resumeJobs, j)
	if !w.resumeWriting {
		w.resumeWriting = true
		s.wg.Add(1)
		go s.resumeWriter()
	}
}

// resumeWriter writes queued records, all those waiting in one
// transaction, until the queue is empty.
func (s *Session) resumeWriter() {
	defer s.wg.Done()
	w := &s.work
	for {
		w.resumeMu.Lock()
		jobs := w.resumeJobs
		w.resumeJobs = nil
		if len(jobs) == 0 {
			w.resumeWriting = false
			w.resumeMu.Unlock()
			return
		}
		errs := s.writeResumeJobs(jobs)
		w.resumeMu.Unlock()
		for i, j := range jobs {
			if j.reply {
				// resumeC has room: a torrent has one save in progress at
				// most. The loop ends the sender count as it takes the result.
				j.t.enter()
				j.t.resumeC <- errs[i]
			}
		}
	}
}

// writeResumeJobs syncs each job's storage and writes the records in one
// transaction; it returns each job's error. Records of removed torrents are
// dropped. It runs with resumeMu held.
func (s *Session) writeResumeJobs(jobs []resumeJob) []error {
	errs := make([]error, len(jobs))
	batch := make([]storage.BatchRecord, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		if j.t.removed {
			continue
		}
		if j.st != nil {
			if err := j.st.Sync(); err != nil {
				errs[i] = err
				continue
			}
			j.rec.Files = storage.CurrentFileStates(j.t.savePath, j.t.diskInfo)
		}
		batch = append(batch, storage.BatchRecord{Record: j.rec, IfAbsent: j.ifAbsent})
	}
	if len(batch) == 0 {
		return errs
	}
	if err := s.resume.SaveAll(batch); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// forgetResume deletes a removed torrent's record, after any queued write
// of it (those are dropped from now on).
func (s *Session) forgetResume(t *Torrent) error {
	w := &s.work
	w.resumeMu.Lock()
	defer w.resumeMu.Unlock()
	t.removed = true
	return s.resume.Delete(t.infoHash)
}
