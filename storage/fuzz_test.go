package storage

import (
	"bytes"
	"testing"

	"shoal/bencode"
	"shoal/metainfo"
)

// FuzzDecodeRecord feeds arbitrary bytes to the resume record decoder, which
// reads what a damaged or hostile database file holds: it must return an
// error or a record whose bitfield fits its piece count, never panic, and
// what it accepts must encode and decode again to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	ih := metainfo.InfoHash{1, 2, 3}
	rec := ResumeRecord{InfoHash: ih, NumPieces: 11, Verified: []byte{0xa0, 0x60},
		Files: []FileState{{Size: 3, ModTime: 4}}, Priorities: []int8{1}}
	good, err := bencode.Marshal(toWire(rec))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("d6:formati1ee"))
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeRecord(ih, data)
		if err != nil {
			return
		}
		if got.InfoHash != ih || len(got.Verified) != (got.NumPieces+7)/8 {
			t.Fatalf("accepted an inconsistent record: %+v", got)
		}
		// What decodes must encode and decode to the same thing.
		again, err := bencode.Marshal(toWire(got))
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeRecord(ih, again)
		if err != nil {
			t.Fatalf("re-decoding an accepted record: %v", err)
		}
		// Encoding is stable: the second decode writes the same bytes.
		if third, err := bencode.Marshal(toWire(back)); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("re-encoding changed the record:\n%q\n%q (%v)", again, third, err)
		}
	})
}
