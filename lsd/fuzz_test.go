package lsd

import (
	"reflect"
	"testing"
)

// FuzzParseAnnounce checks that no input makes ParseAnnounce panic or
// exceed its bounds, and that whatever it accepts survives Marshal and a
// second parse unchanged.
func FuzzParseAnnounce(f *testing.F) {
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + hexA + "\r\ncookie: xyz\r\n\r\n\r\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\nport: 1\ninfohash: " + hexA + "\ninfohash: " + hexB + "\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n\r\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\n: \r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAnnounce(data)
		if err != nil {
			return
		}
		if a.Port < 1 || a.Port > 65535 || len(a.InfoHashes) == 0 || len(a.InfoHashes) > MaxInfoHashes {
			t.Fatalf("accepted out-of-bounds announce %+v", a)
		}
		back, err := ParseAnnounce(a.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", a.Marshal(), err)
		}
		if !reflect.DeepEqual(back, a) {
			t.Fatalf("round trip changed the announce:\n%+v\n%+v", a, back)
		}
	})
}
