package engine

import (
	"shoal/bitfield"
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
	have := t.have
	if have == nil {
		have = bitfield.New(t.info.NumPieces()) // not checked yet: nothing verified
	}
	return storage.ResumeRecord{
		InfoHash:    t.infoHash,
		InfoBytes:   t.mi.InfoBytes,
		SavePath:    t.savePath,
		NumPieces:   t.info.NumPieces(),
		Verified:    append([]byte(nil), have.Bytes()...),
		Priorities:  prio,
		Uploaded:    t.counters.uploadedEver + t.counters.uploaded,
		Downloaded:  t.counters.downloadedEver + t.counters.downloaded,
		AddedAt:     t.addedAt,
		CompletedAt: t.counters.completedAt,
		Paused:      t.paused,
		Sequential:  t.sequential,
		ContentName: t.contentName,
		Trackers:    t.trackerTiers,
		WebSeeds:    t.mi.URLList,
	}
}

// recordNew saves a first record for a torrent just added (not restored),
// unless the store already has one from an earlier session: the torrent is
// then restored after a restart even if it is closed before its first
// check ends. The record holds no file states, so such a restore checks
// every piece. It runs on the loop before anything else.
func (t *Torrent) recordNew() {
	if t.s.resume == nil {
		return
	}
	t.s.queueResume(resumeJob{t: t, rec: t.resumeRecord(), ifAbsent: true})
}

// resumeChanged reports whether the store's record is out of date: new
// verified pieces, other byte counts, or another paused state.
func (t *Torrent) resumeChanged() bool {
	return t.resumeDirty || !t.saved.ok || t.saved.paused != t.paused ||
		t.saved.uploaded != t.counters.uploadedEver+t.counters.uploaded ||
		t.saved.downloaded != t.counters.downloadedEver+t.counters.downloaded
}

// noteSaved remembers what a save being written records.
func (t *Torrent) noteSaved(rec storage.ResumeRecord) {
	t.saved.ok, t.saved.paused = true, rec.Paused
	t.saved.uploaded, t.saved.downloaded = rec.Uploaded, rec.Downloaded
}

// saveResume has the session's resume writer sync the files and save the
// record; the result comes back on resumeC.
func (t *Torrent) saveResume() {
	if t.s.resume == nil || t.st == nil || t.have == nil || t.savingResume {
		return
	}
	rec := t.resumeRecord()
	t.noteSaved(rec)
	t.resumeDirty, t.savingResume = false, true
	t.s.queueResume(resumeJob{t: t, st: t.st, rec: rec, reply: true})
}

// saveResumeNow saves on the loop, waiting for a save in progress first;
// used when the torrent stops. It writes nothing when the store already
// holds what it would write.
func (t *Torrent) saveResumeNow() {
	if t.savingResume {
		<-t.resumeC
		t.leave() // the resume writer's enter
		t.savingResume = false
	}
	if t.s.resume == nil || t.st == nil || t.have == nil || !t.resumeChanged() {
		return
	}
	rec := t.resumeRecord()
	t.noteSaved(rec)
	if err := t.writeResume(t.st, rec); err != nil {
		t.s.log.Warn("saving resume data", "torrent", t.info.Name, "err", err)
		t.saved.ok = false
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
