package metainfo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts
// survives Marshal and SetInfo with the same info hash and files, and maps
// onto a Layout whose pieces add up.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.torrent"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("d4:infod4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae8:announce3:urle"))
	f.Add([]byte("d4:infod5:filesld6:lengthi3e4:pathl1:aeed4:attr1:p6:lengthi2eee4:name1:d12:piece lengthi4e6:pieces40:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := Parse(data)
		if err != nil {
			return
		}
		out, err := mi.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed torrent: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-Parse: %v\n%q", err, out)
		}
		if again.InfoHash != mi.InfoHash || !reflect.DeepEqual(again.Info, mi.Info) {
			t.Fatalf("round trip changed the info: %+v vs %+v", again.Info, mi.Info)
		}
		if !reflect.DeepEqual(again.AnnounceList, mi.AnnounceList) || !reflect.DeepEqual(again.URLList, mi.URLList) {
			t.Fatalf("round trip changed trackers: %q %q vs %q %q", again.AnnounceList, again.URLList, mi.AnnounceList, mi.URLList)
		}

		// What Parse accepts, SetInfo accepts, and re-encoding it in
		// canonical form gives the same Info.
		var fresh MetaInfo
		if err := fresh.SetInfo(mi.Info); err != nil {
			t.Fatalf("SetInfo of a parsed info: %v", err)
		}
		canon, err := Parse(mustMarshal(t, &fresh))
		if err != nil {
			t.Fatalf("Parse of SetInfo output: %v", err)
		}
		if !reflect.DeepEqual(canon.Info, mi.Info) {
			t.Fatalf("SetInfo changed the info: %+v vs %+v", canon.Info, mi.Info)
		}

		l := NewLayout(&mi.Info)
		if l.NumPieces() != mi.Info.NumPieces() {
			t.Fatalf("layout has %d pieces, info %d", l.NumPieces(), mi.Info.NumPieces())
		}
		if n := l.NumPieces(); n > 0 {
			var sum int64
			for _, s := range l.PieceSpans(n - 1) {
				sum += s.Length
			}
			if sum != mi.Info.PieceSize(n-1) {
				t.Fatalf("last piece spans %d bytes, size %d", sum, mi.Info.PieceSize(n-1))
			}
		}
		for i := range mi.Info.Files {
			if _, err := mi.Info.FilePath("/download", i); err != nil && !(mi.Info.Files[i].IsPadding() && len(mi.Info.Files[i].Path) == 0) {
				t.Fatalf("FilePath(%d) of a parsed torrent: %v", i, err)
			}
		}
	})
}
