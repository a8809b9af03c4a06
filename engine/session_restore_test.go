package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"shoal/internal/testkit"
)

// TestRestoreTorrents adds torrents of every kind to a session with a data
// directory, closes it, and checks that a new session restores each as it
// was, without reading unchanged files again.
func TestRestoreTorrents(t *testing.T) {
	multi := makeFixture(t, 16<<10, 40<<10, 20<<10, 30<<10)
	multi.mi.AnnounceList = [][]string{{"http://127.0.0.1:9/announce"}, {"udp://127.0.0.1:9"}}
	multi.mi.Announce = "http://127.0.0.1:9/announce"
	paused := makeFixture(t, 16<<10, 50<<10)
	renamed := makeFixture(t, 32<<10, 70<<10)
	if err := os.Rename(filepath.Join(renamed.dataDir, "content"), filepath.Join(renamed.dataDir, "other")); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	s1 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	prios := []Priority{PriorityNormal, PrioritySkip, PriorityHigh}
	tMulti, err := s1.AddTorrent(multi.mi, AddOptions{SavePath: multi.dataDir, FilePriorities: prios, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.AddTorrent(paused.mi, AddOptions{SavePath: paused.dataDir, Stopped: true}); err != nil {
		t.Fatal(err)
	}
	tRenamed, err := s1.AddTorrent(renamed.mi, AddOptions{SavePath: renamed.dataDir, ContentName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tMulti, 10*time.Second)
	waitComplete(t, tRenamed, 10*time.Second)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	restored, err := s2.RestoreTorrents()
	if err != nil {
		t.Fatal(err)
	}
	if len(restored) != 3 {
		t.Fatalf("restored %d torrents, want 3", len(restored))
	}
	for _, fx := range []fixture{multi, renamed} {
		tor, ok := s2.Torrent(fx.mi.InfoHash)
		if !ok {
			t.Fatalf("torrent %s not restored", fx.mi.InfoHash)
		}
		if tor.SavePath() != fx.dataDir {
			t.Errorf("%s: save path %q, want %q", tor.Name(), tor.SavePath(), fx.dataDir)
		}
		waitComplete(t, tor, 10*time.Second)
		st := tor.Stats()
		n := fx.mi.Info.NumPieces()
		if st.State != StateSeeding || st.PiecesHave != n || st.VerifiedAtStart != n {
			t.Errorf("%s: %v with %d/%d pieces, %d verified at start; want seeding with all", tor.Name(), st.State, st.PiecesHave, n, st.VerifiedAtStart)
		}
		if st.CheckedPieces != 0 {
			t.Errorf("%s: %d pieces hashed again after a restart with unchanged files", tor.Name(), st.CheckedPieces)
		}
	}
	tor, _ := s2.Torrent(multi.mi.InfoHash)
	var gotPrio []Priority
	for _, f := range tor.Files() {
		gotPrio = append(gotPrio, f.Priority)
	}
	if !reflect.DeepEqual(gotPrio, prios) {
		t.Errorf("priorities %v, want %v", gotPrio, prios)
	}
	if got := tor.MetaInfo().AnnounceList; !reflect.DeepEqual(got, multi.mi.AnnounceList) {
		t.Errorf("trackers %v, want %v", got, multi.mi.AnnounceList)
	}
	var seq bool
	tor.call(func() { seq = tor.sequential })
	if !seq {
		t.Error("sequential mode not restored")
	}
	tor, _ = s2.Torrent(renamed.mi.InfoHash)
	if f := tor.Files(); len(f) != 1 || f[0].Have != renamed.mi.Info.TotalLength() {
		t.Errorf("renamed content: files %+v", f)
	}

	tPaused, _ := s2.Torrent(paused.mi.InfoHash)
	if st := tPaused.Stats(); st.State != StateStopped {
		t.Errorf("paused torrent restored as %v", st.State)
	}
	// Never checked before, so started now it checks everything, and
	// finds the data.
	if err := tPaused.Start(); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tPaused, 10*time.Second)

	// Restoring again adds nothing: every torrent is already there.
	again, err := s2.RestoreTorrents()
	if err != nil || len(again) != 0 {
		t.Errorf("second restore: %d torrents, %v", len(again), err)
	}
}

// TestRestoreRechecksChangedFiles: a file changed while the client was
// closed is hashed again, and only the pieces of that file.
func TestRestoreRechecksChangedFiles(t *testing.T) {
	fx := makeFixture(t, 16<<10, 64<<10, 32<<10)
	dataDir := t.TempDir()
	s1 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	tor, err := s1.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	// Corrupt the second file (pieces 4 and 5) without changing its size;
	// the modification time moves forward.
	p, err := fx.mi.Info.FilePath(fx.dataDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}

	s2 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	restored, err := s2.RestoreTorrents()
	if err != nil || len(restored) != 1 {
		t.Fatalf("restored %d torrents, %v", len(restored), err)
	}
	tor = restored[0]
	deadline := time.Now().Add(10 * time.Second)
	var st Stats
	for st = tor.Stats(); st.State == StateChecking; st = tor.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("still checking after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.State != StateDownloading || st.CheckedPieces != 2 || st.PiecesHave != fx.mi.Info.NumPieces()-1 {
		t.Errorf("after changing one file: %v, %d pieces hashed, %d of %d verified; want downloading, 2 hashed, all but one verified",
			st.State, st.CheckedPieces, st.PiecesHave, fx.mi.Info.NumPieces())
	}
}

// TestRemovedTorrentIsNotRestored: removing a torrent right after adding it
// (its first record may still be queued) leaves nothing to restore.
func TestRemovedTorrentIsNotRestored(t *testing.T) {
	dataDir := t.TempDir()
	s1 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	for i := range 5 {
		fx := makeFixture(t, 16<<10, int64(20+i)<<10)
		tor, err := s1.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Remove(false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	restored, err := s2.RestoreTorrents()
	if err != nil || len(restored) != 0 {
		t.Errorf("restored %d removed torrents (%v)", len(restored), err)
	}
}

func TestRestoreNeedsDataDir(t *testing.T) {
	s := newTestSession(t, Config{NoListen: true})
	if _, err := s.RestoreTorrents(); err == nil {
		t.Error("RestoreTorrents without a data directory: no error")
	}
}

// TestIdleTorrentsPark: seeding torrents with no peer end their loop
// goroutine and close their files, and still answer calls and close.
func TestIdleTorrentsPark(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newTestSession(t, Config{DataDir: t.TempDir(), NoListen: true})
	var torrents []*Torrent
	for i := range 20 {
		fx := makeFixture(t, 16<<10, int64(30+i)<<10)
		tor, err := s.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
		if err != nil {
			t.Fatal(err)
		}
		torrents = append(torrents, tor)
	}
	for _, tor := range torrents {
		waitComplete(t, tor, 10*time.Second)
	}
	// Every loop parks, though a loop may park with its first resume save
	// in flight and wake once more to take the result; only then does it
	// release the storage. So wait for the release, not for a moment.
	waitParked(t, torrents...)
	for _, tor := range torrents {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var open int
			tor.call(func() {
				if l, ok := tor.st.(*lazyStorage); ok && l.fs != nil {
					open = l.fs.OpenFiles()
				} else if !ok {
					open = -1
				}
			})
			if open == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: idle storage is not released (open files %d; -1: not lazy)", tor.Name(), open)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st := tor.Stats(); st.State != StateSeeding {
			t.Errorf("%s: %v, want seeding", tor.Name(), st.State)
		}
	}
	waitParked(t, torrents...) // and parked again after the calls
	testkit.WaitGoroutines(t, base)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tor := range torrents {
		select {
		case <-tor.loopDoneC:
		default:
			t.Fatalf("%s: loop not ended after Close", tor.Name())
		}
	}
	checkNoEngineGoroutines(t)
}

// TestStoppedTorrentStaysStopped: a torrent the user stopped comes back
// stopped, and started again it trusts its resume data.
func TestStoppedTorrentStaysStopped(t *testing.T) {
	fx := makeFixture(t, 16<<10, 90<<10)
	dataDir := t.TempDir()
	s1 := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	tor, err := s1.AddTorrent(fx.mi, AddOptions{SavePath: fx.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	waitComplete(t, tor, 10*time.Second)
	if err := tor.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
		restored, err := s.RestoreTorrents()
		if err != nil || len(restored) != 1 {
			t.Fatalf("round %d: restored %d torrents, %v", round, len(restored), err)
		}
		tor = restored[0]
		if st := tor.Stats(); st.State != StateStopped {
			t.Fatalf("round %d: a stopped torrent came back %v", round, st.State)
		}
		if round == 1 {
			if err := tor.Start(); err != nil {
				t.Fatal(err)
			}
			waitComplete(t, tor, 10*time.Second)
			if st := tor.Stats(); st.CheckedPieces != 0 || st.VerifiedAtStart != fx.mi.Info.NumPieces() {
				t.Errorf("started after a restart: %d pieces hashed, %d verified at start; want 0 and %d",
					st.CheckedPieces, st.VerifiedAtStart, fx.mi.Info.NumPieces())
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Started in the last session, it comes back running.
	s := newTestSession(t, Config{DataDir: dataDir, NoListen: true})
	restored, err := s.RestoreTorrents()
	if err != nil || len(restored) != 1 {
		t.Fatalf("restored %d torrents, %v", len(restored), err)
	}
	waitComplete(t, restored[0], 10*time.Second)
}
