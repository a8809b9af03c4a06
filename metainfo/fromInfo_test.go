package metainfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestFromInfoBytes(t *testing.T) {
	var mi MetaInfo
	info := Info{Name: "a.bin", PieceLength: 16384, Pieces: []PieceHash{{1}, {2}}, SingleFile: true,
		Files: []File{{Length: 20000}}}
	if err := mi.SetInfo(info); err != nil {
		t.Fatal(err)
	}
	got, err := FromInfoBytes(mi.InfoBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got.InfoHash != mi.InfoHash || !reflect.DeepEqual(got.Info, mi.Info) || string(got.InfoBytes) != string(mi.InfoBytes) {
		t.Fatalf("FromInfoBytes = %+v, want %+v", got, mi)
	}
	// The result owns its bytes.
	orig := string(mi.InfoBytes)
	mi.InfoBytes[0] = 'x'
	if string(got.InfoBytes) != orig {
		t.Fatal("InfoBytes aliases the argument")
	}
	for _, bad := range []string{"", "le", "de", "d4:name3:abce", "d4:name5:a.bin12:piece lengthi16384e6:pieces20:" +
		strings.Repeat("x", 20) + "6:lengthi1eetrailing", "d4:name2:..12:piece lengthi16384e6:pieces0:6:lengthi0ee"} {
		if _, err := FromInfoBytes([]byte(bad)); err == nil {
			t.Errorf("FromInfoBytes(%q) accepted", bad)
		}
	}
}
