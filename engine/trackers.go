package engine

import (
	"shoal/metainfo"
	"shoal/tracker"
)

// A torrent finds peers through its trackers unless AddOptions.NoTrackers
// says otherwise. For a private torrent (BEP 27) the trackers are the only
// source there is, which is what BEP 27 asks: no other source exists yet,
// and the DHT and peer exchange must stay off for private torrents when
// they come.

// trackerSource returns the tracker source for a torrent being added, or
// nil when it has no trackers or opts turns them off.
func (s *Session) trackerSource(mi *metainfo.MetaInfo, opts AddOptions) *tracker.Source {
	if opts.NoTrackers {
		return nil
	}
	extra := opts.Trackers
	if mi.Info.Private && len(extra) > 0 {
		// BEP 27: a private torrent's peers are announced only to the
		// trackers its metainfo names.
		s.log.Warn("private torrent: extra trackers ignored", "torrent", mi.Info.Name, "trackers", extra)
		extra = nil
	}
	tiers := tracker.Tiers(mi.Announce, mi.AnnounceList, extra...)
	if len(tiers) == 0 {
		return nil
	}
	return tracker.NewSource(tiers, tracker.SourceConfig{
		PeerID:      s.peerID,
		StopTimeout: s.cfg.TrackerStopTimeout,
	})
}

// Trackers returns the state of each of the torrent's trackers, in the
// order they are tried; nil when the torrent uses none.
func (t *Torrent) Trackers() []tracker.Status {
	if t.trackers == nil {
		return nil
	}
	return t.trackers.Status()
}

// Complete makes sourceView a sources.Completer: a tracker announces
// "completed" when the channel closes.
func (v sourceView) Complete() <-chan struct{} { return v.t.completeC }

// sourceStats is Stats for a peer source: once the loop has ended (the
// session closing), the state it left is final, and reading it directly
// is safe, so a "stopped" announce still reports honest counters.
func (t *Torrent) sourceStats() Stats {
	var st Stats
	if t.call(func() { st = t.stats() }) != nil {
		<-t.loopDoneC
		st = t.stats()
	}
	return st
}
