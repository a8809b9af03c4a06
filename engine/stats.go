package engine

import (
	"net/netip"
	"time"

	"shoal/peerwire"
	"shoal/tracker"
)

// State is what a torrent is doing.
type State int

// The states of a torrent.
const (
	StateStopped     State = iota // not running
	StateChecking                 // verifying existing data
	StateDownloading              // wants pieces it does not have
	StateSeeding                  // has every wanted piece and uploads
	StateError                    // stopped by an error (see Stats.Err)
)

func (s State) String() string {
	switch s {
	case StateStopped:
		return "stopped"
	case StateChecking:
		return "checking"
	case StateDownloading:
		return "downloading"
	case StateSeeding:
		return "seeding"
	case StateError:
		return "error"
	}
	return "unknown"
}

// Stats is a snapshot of a torrent's state and counters.
type Stats struct {
	State State
	// Err is why the torrent stopped, when State is StateError.
	Err error
	// TotalSize is the size of all files; WantedSize of the files not skipped.
	TotalSize, WantedSize int64
	// HaveWanted is the verified bytes of wanted files.
	HaveWanted int64
	// Progress is HaveWanted / WantedSize, from 0 to 1.
	Progress float64
	// Pieces and PiecesHave count all pieces and the verified ones.
	Pieces, PiecesHave int
	// CheckedPieces is how far the start-up check has got.
	CheckedPieces int
	// VerifiedAtStart is how many pieces were valid when the torrent started.
	VerifiedAtStart int
	// DownloadRate and UploadRate are payload bytes per second (~20 s average).
	DownloadRate, UploadRate float64
	// Downloaded and Uploaded are payload bytes in this session; the Ever
	// variants include earlier sessions.
	Downloaded, Uploaded         int64
	DownloadedEver, UploadedEver int64
	// Wasted is payload received that could not be used (unrequested,
	// duplicate, or part of a piece that failed its hash check).
	Wasted int64
	// Peers is the number of connected peers; Seeds of those that have
	// every piece; KnownPeers of addresses we know.
	Peers, Seeds, KnownPeers int
	// PEXPeers counts the addresses peers told us about through peer
	// exchange (BEP 11) that we did not know yet.
	PEXPeers int
	// CompletedAt is when every wanted piece was verified (zero if not yet).
	CompletedAt time.Time
	// Trackers is the state of each of the torrent's trackers.
	Trackers []tracker.Status
}

// PeerStats describes one connected peer.
type PeerStats struct {
	Addr         netip.AddrPort
	ID           peerwire.PeerID
	Client       string
	Incoming     bool
	Progress     float64
	DownloadRate float64
	UploadRate   float64
	// AmChoking, AmInterested, PeerChoking, PeerInterested are the four
	// BEP 3 connection states.
	AmChoking, AmInterested, PeerChoking, PeerInterested bool
	Snubbed                                              bool
	Downloaded, Uploaded                                 int64
}

// FileStats describes one file of the torrent.
type FileStats struct {
	Path     []string // starts with the torrent's name
	Length   int64
	Have     int64 // verified bytes
	Priority Priority
	Padding  bool // BEP 47 padding file (never written)
}

// Stats returns a snapshot of the torrent's state and counters.
func (t *Torrent) Stats() Stats {
	var st Stats
	if err := t.call(func() { st = t.stats(); st.PEXPeers = t.pexLearned }); err != nil {
		st.State, st.Err = StateStopped, err
	}
	st.Trackers = t.Trackers()
	return st
}

// Peers returns the connected peers.
func (t *Torrent) Peers() []PeerStats {
	var out []PeerStats
	t.call(func() {
		for _, p := range t.peers {
			out = append(out, p.stats(t.info.NumPieces()))
		}
	})
	return out
}

// Files returns the torrent's files with their progress and priority.
func (t *Torrent) Files() []FileStats {
	var out []FileStats
	t.call(func() {
		for i, f := range t.info.Files {
			out = append(out, FileStats{
				Path:     f.DisplayPath(t.info.Name),
				Length:   f.Length,
				Have:     t.fileHave(i),
				Priority: t.filePrio[i],
				Padding:  f.IsPadding(),
			})
		}
	})
	return out
}

// SetFilePriority changes the priority of file i.
func (t *Torrent) SetFilePriority(i int, p Priority) error {
	if i < 0 || i >= len(t.info.Files) {
		return errIndex(i)
	}
	return t.call(func() {
		t.filePrio[i] = p
		t.applyPriorities()
	})
}
