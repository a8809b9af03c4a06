package engine

import (
	"errors"
	"fmt"

	"shoal/bencode"
	"shoal/metainfo"
	"shoal/storage"
)

// RestoreTorrents adds every torrent recorded in the session's resume store
// (Config.DataDir) that the session does not hold yet, as it was when the
// previous session closed: the same save path and content name, file
// priorities, sequential mode, tracker tiers and web seeds, byte counts,
// and stopped or running. Torrents that were running start again; their
// data is trusted where the resume data says it is verified and the file's
// size and modification time are unchanged, so a restart reads only files
// that changed while the client was not running.
//
// A session does not restore by itself: a client calls RestoreTorrents once
// after NewSession, then adds new torrents (adding one already restored is
// an error, as for any duplicate). Every torrent added with AddTorrent to a
// session with a DataDir is recorded at once, so it comes back even if it
// was closed before its first check ended.
//
// It returns the torrents it added. A record that cannot be used (corrupt,
// or an info dictionary that does not parse) is skipped and reported in the
// error, joined with the others; the other torrents are restored anyway. A
// session without a DataDir has nothing to restore and returns an error.
func (s *Session) RestoreTorrents() ([]*Torrent, error) {
	return s.RestoreTorrentsFunc(nil)
}

// RestoreTorrentsFunc is RestoreTorrents with a hook: prepare, if not nil,
// is called for each torrent before it is added and may change its
// options, for instance to give it peer sources (AddOptions.Sources are
// not recorded in the resume data). mi is the torrent rebuilt from its
// record: its info dictionary, tracker tiers and web seeds.
func (s *Session) RestoreTorrentsFunc(prepare func(mi *metainfo.MetaInfo, opts *AddOptions)) ([]*Torrent, error) {
	if s.resume == nil {
		return nil, errors.New("engine: restore: the session has no data directory (Config.DataDir)")
	}
	recs, loadErr := s.resume.LoadAll()
	errs := []error{loadErr}
	var out []*Torrent
	for i := range recs {
		rec := &recs[i]
		if _, dup := s.Torrent(rec.InfoHash); dup {
			continue
		}
		mi, err := metaInfoFromRecord(rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		opts := AddOptions{
			SavePath:    rec.SavePath,
			ContentName: rec.ContentName,
			Stopped:     rec.Paused,
			Sequential:  rec.Sequential,
		}
		if len(rec.Priorities) == len(mi.Info.Files) {
			opts.FilePriorities = make([]Priority, len(rec.Priorities))
			for j, p := range rec.Priorities {
				opts.FilePriorities[j] = Priority(max(min(p, int8(PriorityHigh)), int8(PrioritySkip)))
			}
		}
		if prepare != nil {
			prepare(mi, &opts)
		}
		// Keep one copy of the info dictionary, not two.
		rec.InfoBytes = mi.InfoBytes
		t, err := s.addTorrent(mi, opts, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("engine: restore %s: %w", rec.InfoHash, err))
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// restoredTorrent is the .torrent rebuilt from a resume record, to be read
// back by metainfo.Parse, which checks everything as for a file.
type restoredTorrent struct {
	Announce     string             `bencode:"announce,omitempty"`
	AnnounceList [][]string         `bencode:"announce-list,omitempty"`
	Info         bencode.RawMessage `bencode:"info"`
	URLList      []string           `bencode:"url-list,omitempty"`
}

// metaInfoFromRecord rebuilds a torrent's metainfo from its resume record.
func metaInfoFromRecord(rec *storage.ResumeRecord) (*metainfo.MetaInfo, error) {
	rt := restoredTorrent{Info: rec.InfoBytes, AnnounceList: rec.Trackers, URLList: rec.WebSeeds}
	if len(rec.Trackers) > 0 && len(rec.Trackers[0]) > 0 {
		rt.Announce = rec.Trackers[0][0]
	}
	data, err := bencode.Marshal(rt)
	if err != nil {
		return nil, fmt.Errorf("engine: restore %s: %w", rec.InfoHash, err)
	}
	mi, err := metainfo.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("engine: restore %s: resume record: %w", rec.InfoHash, err)
	}
	if mi.InfoHash != rec.InfoHash {
		return nil, fmt.Errorf("engine: restore %s: the recorded info dictionary hashes to %s", rec.InfoHash, mi.InfoHash)
	}
	return mi, nil
}
