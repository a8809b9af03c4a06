package metainfo

import (
	"bytes"
	"crypto/sha1"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzFromInfoBytes feeds arbitrary bytes as the info dictionary a peer
// sends for a magnet link (BEP 9). What it accepts must hash to the
// bytes given, keep its own copy of them, agree with Parse on a .torrent
// that holds the same dictionary, and survive SetInfo unchanged.
func FuzzFromInfoBytes(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.torrent"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		mi, err := Parse(data)
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		f.Add([]byte(mi.InfoBytes))
	}
	f.Add([]byte("d6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := FromInfoBytes(data)
		if err != nil {
			return
		}
		if mi.InfoHash != sha1.Sum(data) || !bytes.Equal(mi.InfoBytes, data) {
			t.Fatalf("info hash or bytes do not match the input")
		}
		if len(data) > 0 && &mi.InfoBytes[0] == &data[0] {
			t.Fatal("InfoBytes aliases the caller's buffer")
		}
		torrent := append(append([]byte("d4:info"), data...), 'e')
		parsed, err := Parse(torrent)
		if err != nil {
			t.Fatalf("FromInfoBytes accepted what Parse refuses in a .torrent: %v", err)
		}
		if parsed.InfoHash != mi.InfoHash || !reflect.DeepEqual(parsed.Info, mi.Info) {
			t.Fatalf("Parse and FromInfoBytes disagree:\n%+v\n%+v", parsed.Info, mi.Info)
		}
		var fresh MetaInfo
		if err := fresh.SetInfo(mi.Info); err != nil {
			t.Fatalf("SetInfo of accepted info: %v", err)
		}
		again, err := FromInfoBytes(fresh.InfoBytes)
		if err != nil {
			t.Fatalf("canonical %q refused: %v", fresh.InfoBytes, err)
		}
		if !reflect.DeepEqual(again.Info, mi.Info) {
			t.Fatalf("canonical re-encoding changed the info:\n%+v\n%+v", again.Info, mi.Info)
		}
	})
}
