package engine

import (
	"shoal/storage"
)

// resumeRecord captures what must survive a restart. Only pieces whose
// write has completed are in t.have, and the save syncs the files before
// it records them, so the record never claims data that is not on disk.
func (t *Torrent) resumeRecord() storage.ResumeRecord {
	prio := make([]int8, len(t.filePrio))
	for i, p := range t.filePrio {
		prio[i] = int8(p)
	}
	return storage.ResumeRecord{
		InfoHash:    t.infoHash,
		InfoBytes:   t.mi.InfoBytes,
		SavePath:    t.savePath,
		NumPieces:   t.info.NumPieces(),
		Verified:    append([]byte(nil), t.have.Bytes()...),
		Priorities:  prio,
		Uploaded:    t.counters.uploadedEver + t.counters.uploaded,
		Downloaded:  t.counters.downloadedEver + t.counters.downloaded,
		AddedAt:     t.addedAt,
		CompletedAt: t.counters.completedAt,
		Paused:      t.state == StateStopped,
		Sequential:  t.sequential,
	}
}

// saveResume syncs the files and saves the resume record in the
// background; the result comes back on resumeC.
func (t *Torrent) saveResume() {
	if t.s.resume == nil || t.st == nil || t.have == nil || t.savingResume {
		return
	}
	rec, st := t.resumeRecord(), t.st
	t.resumeDirty, t.savingResume = false, true
	t.s.wg.Add(1)
	go func() {
		defer t.s.wg.Done()
		t.resumeC <- t.writeResume(st, rec) // buffered: one save at a time
	}()
}

// saveResumeNow saves on the loop, waiting for a save in progress first;
// used when the torrent stops.
func (t *Torrent) saveResumeNow() {
	if t.savingResume {
		<-t.resumeC
		t.savingResume = false
	}
	if t.s.resume == nil || t.st == nil || t.have == nil {
		return
	}
	if err := t.writeResume(t.st, t.resumeRecord()); err != nil {
		t.s.log.Warn("saving resume data", "torrent", t.info.Name, "err", err)
	}
	t.resumeDirty = false
}

func (t *Torrent) writeResume(st storage.Storage, rec storage.ResumeRecord) error {
	if err := st.Sync(); err != nil {
		return err
	}
	rec.Files = storage.CurrentFileStates(t.savePath, t.diskInfo)
	return t.s.resume.Save(rec)
}
