package storage

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"shoal/metainfo"
)

func openStore(t *testing.T, path string) *ResumeStore {
	t.Helper()
	s, err := OpenResumeStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sampleRecord(b byte) ResumeRecord {
	return ResumeRecord{
		InfoHash:    metainfo.InfoHash{b, 1, 2, 3},
		InfoBytes:   []byte("d4:name1:t12:piece lengthi16ee"),
		SavePath:    "/downloads",
		NumPieces:   11,
		Verified:    []byte{0b10100000, 0b01100000},
		Files:       []FileState{{Size: 20, ModTime: 1700000000123456789}, {Size: -1}},
		Priorities:  []int8{1, -1},
		Uploaded:    1 << 40,
		Downloaded:  12345,
		AddedAt:     time.Unix(1700000000, 42),
		CompletedAt: time.Time{},
		Paused:      true,
		Sequential:  false,
		ContentName: "renamed",
		Trackers:    [][]string{{"http://a/announce", "udp://b:1"}, {"http://c/announce"}},
		WebSeeds:    []string{"http://d/files/"},
	}
}

func TestResumeRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resume.db")
	s := openStore(t, path)
	a, b := sampleRecord(0xaa), sampleRecord(0x0b)
	b.Paused, b.Sequential, b.CompletedAt = false, true, time.Unix(1800000000, 0)
	b.Priorities, b.Files = nil, nil
	for _, rec := range []ResumeRecord{a, b} {
		if err := s.Save(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path) // the records survive a reopen
	defer s.Close()
	for _, want := range []ResumeRecord{a, b} {
		got, ok, err := s.Load(want.InfoHash)
		if err != nil || !ok {
			t.Fatalf("Load(%s): ok=%v, %v", want.InfoHash, ok, err)
		}
		if !got.AddedAt.Equal(want.AddedAt) || !got.CompletedAt.Equal(want.CompletedAt) {
			t.Errorf("times: got %v/%v, want %v/%v", got.AddedAt, got.CompletedAt, want.AddedAt, want.CompletedAt)
		}
		got.AddedAt, got.CompletedAt, want.AddedAt, want.CompletedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if len(got.Priorities) == 0 && len(want.Priorities) == 0 {
			got.Priorities, want.Priorities = nil, nil
		}
		if len(got.Files) == 0 && len(want.Files) == 0 {
			got.Files, want.Files = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load(%s):\n got %+v\nwant %+v", want.InfoHash, got, want)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0] != b.InfoHash || list[1] != a.InfoHash {
		t.Fatalf("List: %v, %v", list, err)
	}
	if err := s.Delete(a.InfoHash); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load(a.InfoHash); ok || err != nil {
		t.Fatalf("Load after Delete: ok=%v, %v", ok, err)
	}
	if err := s.Delete(a.InfoHash); err != nil {
		t.Fatalf("Delete of a missing record: %v", err)
	}
	// Saving again replaces.
	b.Downloaded = 999
	if err := s.Save(b); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Load(b.InfoHash); got.Downloaded != 999 {
		t.Fatalf("Downloaded after re-save = %d", got.Downloaded)
	}
}

func TestResumeConcurrentSaves(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "resume.db"))
	defer s.Close()
	errs := make(chan error, 20)
	for i := range 20 {
		go func() { errs <- s.Save(sampleRecord(byte(i))) }()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if list, err := s.List(); err != nil || len(list) != 20 {
		t.Fatalf("List: %d records, %v", len(list), err)
	}
}

func TestResumeSaveRejectsBadBitfield(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "resume.db"))
	defer s.Close()
	rec := sampleRecord(1)
	rec.NumPieces = 20 // 2 bytes hold 16 pieces
	if err := s.Save(rec); err == nil {
		t.Fatal("Save accepted 2 bitfield bytes for 20 pieces")
	}
	rec = sampleRecord(1)
	rec.Verified[1] |= 1 // spare bit beyond piece 11
	if err := s.Save(rec); err == nil {
		t.Fatal("Save accepted a bitfield with spare bits set")
	}
}

func TestResumeCorruptDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resume.db")
	garbage := []byte(strings.Repeat("this is not a bbolt database. ", 400))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenResumeStore(path)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
		t.Fatalf("open of a garbage file: %v, want a corrupt-database error naming %s", err, path)
	}
}

// rawUpdate edits the database behind the store's back.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestResumeVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resume.db")
	s := openStore(t, path)
	rec := sampleRecord(7)
	if err := s.Save(rec); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A record from a newer format is refused, not misread.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		v := tx.Bucket(torrentsBucket).Get(rec.InfoHash[:])
		nv := strings.Replace(string(v), "6:formati1e", "6:formati2e", 1)
		return tx.Bucket(torrentsBucket).Put(rec.InfoHash[:], []byte(nv))
	})
	s = openStore(t, path)
	if _, _, err := s.Load(rec.InfoHash); err == nil || !strings.Contains(err.Error(), "format version 2") {
		t.Fatalf("Load of a format-2 record: %v", err)
	}
	s.Close()

	// A record that is not bencode says corrupt.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(torrentsBucket).Put(rec.InfoHash[:], []byte("d6:formati1e"))
	})
	s = openStore(t, path)
	if _, _, err := s.Load(rec.InfoHash); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Load of a truncated record: %v", err)
	}
	s.Close()

	// A store from a newer format is refused as a whole.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(formatKey, []byte("2"))
	})
	if _, err := OpenResumeStore(path); err == nil || !strings.Contains(err.Error(), "format version") {
		t.Fatalf("open of a format-2 store: %v", err)
	}
}

func TestCurrentFileStatesAndRecheck(t *testing.T) {
	// 16-byte pieces: a (20) = pieces 0-1, pad (12) = pieces 1-1,
	// b (16) = piece 2, c (30) = pieces 3-4, e (0) = none.
	tt := newTorrent(t, 16, tfile{"a", 20, ""}, tfile{".pad/12", 12, "p"}, tfile{"b", 16, ""},
		tfile{"c", 30, ""}, tfile{"e", 0, ""})
	root := t.TempDir()
	s := newStorage(t, root, tt, FileOptions{})
	writePieces(t, s, tt, allPieces(tt.numPieces())...)
	if err := s.CreateEmptyFiles(); err != nil {
		t.Fatal(err)
	}
	saved := CurrentFileStates(root, tt.info)
	if saved[0].Size != 20 || saved[1].Size != -1 || saved[2].Size != 16 || saved[3].Size != 30 || saved[4].Size != 0 {
		t.Fatalf("states %+v", saved)
	}
	if got := PiecesToRecheck(tt.info, saved, CurrentFileStates(root, tt.info)); len(got) != 0 {
		t.Fatalf("nothing changed, yet recheck %v", got)
	}

	// Touch a: its pieces 0 and 1. Truncate c: 3 and 4. Delete b: 2.
	old := time.Unix(1600000000, 0)
	cases := []struct {
		name   string
		change func()
		want   []int
	}{
		{"mtime of a", func() { os.Chtimes(tt.path(t, root, 0), old, old) }, []int{0, 1}},
		{"size of c", func() { os.Truncate(tt.path(t, root, 3), 5) }, []int{0, 1, 3, 4}},
		{"b deleted", func() { os.Remove(tt.path(t, root, 2)) }, []int{0, 1, 2, 3, 4}},
	}
	for _, c := range cases {
		c.change()
		if got := PiecesToRecheck(tt.info, saved, CurrentFileStates(root, tt.info)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("after %s: recheck %v, want %v", c.name, got, c.want)
		}
	}
	// A symlink in place of e is not followed: it counts as missing.
	os.Remove(tt.path(t, root, 4))
	os.Symlink(tt.path(t, root, 0), tt.path(t, root, 4))
	if st := CurrentFileStates(root, tt.info)[4]; st.Size != -1 {
		t.Errorf("symlink state %+v, want missing", st)
	}
	if got := PiecesToRecheck(tt.info, saved[:2], saved); len(got) != tt.numPieces() {
		t.Errorf("mismatched state lists: recheck %v, want every piece", got)
	}
}

func TestResumeSaveNewAndSaveAll(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "resume.db"))
	defer s.Close()
	a := sampleRecord(1)
	if saved, err := s.SaveNew(a); err != nil || !saved {
		t.Fatalf("SaveNew into an empty store: saved=%v, %v", saved, err)
	}
	changed := a
	changed.Downloaded = 777
	if saved, err := s.SaveNew(changed); err != nil || saved {
		t.Fatalf("SaveNew over an existing record: saved=%v, %v", saved, err)
	}
	if got, _, _ := s.Load(a.InfoHash); got.Downloaded != a.Downloaded {
		t.Fatalf("SaveNew replaced a record: Downloaded = %d", got.Downloaded)
	}

	// One transaction: IfAbsent records do not replace, the others do.
	b, c := sampleRecord(2), sampleRecord(3)
	err := s.SaveAll([]BatchRecord{{Record: changed, IfAbsent: true}, {Record: b, IfAbsent: true}, {Record: c}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Load(a.InfoHash); got.Downloaded != a.Downloaded {
		t.Errorf("IfAbsent in SaveAll replaced a record")
	}
	c.Downloaded = 5
	if err := s.SaveAll([]BatchRecord{{Record: changed}, {Record: c}}); err != nil {
		t.Fatal(err)
	}
	for ih, want := range map[metainfo.InfoHash]int64{a.InfoHash: 777, b.InfoHash: b.Downloaded, c.InfoHash: 5} {
		if got, ok, err := s.Load(ih); !ok || err != nil || got.Downloaded != want {
			t.Errorf("record %s: ok=%v err=%v Downloaded=%d, want %d", ih, ok, err, got.Downloaded, want)
		}
	}
	// A bad record fails the whole batch, which stores nothing.
	bad, d := sampleRecord(4), sampleRecord(5)
	bad.NumPieces = 100
	if err := s.SaveAll([]BatchRecord{{Record: d}, {Record: bad}}); err == nil {
		t.Fatal("SaveAll with a record whose bitfield does not fit: no error")
	}
	if _, ok, _ := s.Load(d.InfoHash); ok {
		t.Error("a failed SaveAll stored a record")
	}
}

func TestResumeLoadAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resume.db")
	s := openStore(t, path)
	for _, b := range []byte{9, 3, 7} {
		if err := s.Save(sampleRecord(b)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.LoadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("LoadAll: %d records, %v", len(recs), err)
	}
	for i, ih := range []byte{3, 7, 9} { // info hash order
		if recs[i].InfoHash[0] != ih || recs[i].ContentName != "renamed" || len(recs[i].Trackers) != 2 {
			t.Errorf("record %d: %+v", i, recs[i])
		}
	}
	// A corrupt record is reported and skipped; the others still load.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		bad := metainfo.InfoHash{5}
		return tx.Bucket(torrentsBucket).Put(bad[:], []byte("d6:formati1e4:junk"))
	}); err != nil {
		t.Fatal(err)
	}
	recs, err = s.LoadAll()
	if err == nil || !strings.Contains(err.Error(), metainfo.InfoHash{5}.String()) {
		t.Errorf("LoadAll with a corrupt record: error %v, want one naming it", err)
	}
	if len(recs) != 3 {
		t.Errorf("LoadAll with a corrupt record: %d good records, want 3", len(recs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
