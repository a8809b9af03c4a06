package lsd

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"shoal/metainfo"
)

const (
	hexA = "0123456789abcdef0123456789abcdef01234567"
	hexB = "fedcba9876543210fedcba9876543210fedcba98"
)

func mustHash(t testing.TB, s string) metainfo.InfoHash {
	t.Helper()
	ih, err := parseHexInfoHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return ih
}

func TestParseAnnounce(t *testing.T) {
	ihA, ihB := mustHash(t, hexA), mustHash(t, hexB)
	tests := []struct {
		name    string
		in      string
		want    Announce
		wantErr string // substring; "" = must succeed
	}{
		{
			name: "BEP 14 example with cookie",
			in:   "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + hexA + "\r\ncookie: abc\r\n\r\n\r\n",
			want: Announce{Host: Group4, Port: 6881, InfoHashes: []metainfo.InfoHash{ihA}, Cookie: "abc"},
		},
		{
			name: "bare LF, odd header case, no cookie, uppercase hex",
			in:   "BT-SEARCH * HTTP/1.1\nHOST: [ff15::efc0:988f]:6771\nport:51413\ninfoHASH: " + strings.ToUpper(hexB) + "\n\n",
			want: Announce{Host: Group6, Port: 51413, InfoHashes: []metainfo.InfoHash{ihB}},
		},
		{
			name: "several hashes, duplicate dropped, unknown header ignored, no final blank line",
			in:   "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + hexA + "\r\nX-Extra: whatever: here\r\nInfohash: " + hexB + "\r\nInfohash: " + hexA,
			want: Announce{Port: 1, InfoHashes: []metainfo.InfoHash{ihA, ihB}},
		},
		{
			name: "body after the blank line ignored",
			in:   "BT-SEARCH * HTTP/1.1\r\nPort: 65535\r\nInfohash: " + hexA + "\r\n\r\nPort: oops\r\n",
			want: Announce{Port: 65535, InfoHashes: []metainfo.InfoHash{ihA}},
		},
		{
			name: "spaces and tabs around values",
			in:   "BT-SEARCH * HTTP/1.1 \r\nPort:\t 80 \r\nInfohash:   " + hexA + "\t\r\ncookie:  a b \r\n\r\n",
			want: Announce{Port: 80, InfoHashes: []metainfo.InfoHash{ihA}, Cookie: "a b"},
		},
		{name: "empty", in: "", wantErr: "request line"},
		{name: "wrong method", in: "M-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + hexA + "\r\n\r\n", wantErr: "request line"},
		{name: "wrong version", in: "BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nInfohash: " + hexA + "\r\n\r\n", wantErr: "request line"},
		{name: "no port", in: "BT-SEARCH * HTTP/1.1\r\nInfohash: " + hexA + "\r\n\r\n", wantErr: "no Port"},
		{name: "no infohash", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n", wantErr: "no Infohash"},
		{name: "port zero", in: "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: " + hexA + "\r\n", wantErr: "out of range"},
		{name: "port too big", in: "BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: " + hexA + "\r\n", wantErr: "out of range"},
		{name: "port negative", in: "BT-SEARCH * HTTP/1.1\r\nPort: -1\r\nInfohash: " + hexA + "\r\n", wantErr: "not a decimal"},
		{name: "port huge", in: "BT-SEARCH * HTTP/1.1\r\nPort: 99999999999999999999\r\nInfohash: " + hexA + "\r\n", wantErr: "not a decimal"},
		{name: "port empty", in: "BT-SEARCH * HTTP/1.1\r\nPort:\r\nInfohash: " + hexA + "\r\n", wantErr: "not a decimal"},
		{name: "two ports", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\nInfohash: " + hexA + "\r\n", wantErr: "repeated Port"},
		{name: "two cookies", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\ncookie: a\r\nCookie: b\r\nInfohash: " + hexA + "\r\n", wantErr: "repeated cookie"},
		{name: "short hash", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + hexA[:39] + "\r\n", wantErr: "line 3: infohash"},
		{name: "non-hex hash", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + hexA[:39] + "g\r\n", wantErr: "invalid byte"},
		{name: "base32 hash", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU\r\n", wantErr: "40 hex"},
		{name: "header without colon", in: "BT-SEARCH * HTTP/1.1\r\nPort 1\r\n", wantErr: "line 2: \"Port 1\" is not a header"},
		{name: "header with empty name", in: "BT-SEARCH * HTTP/1.1\r\n: 1\r\n", wantErr: "not a header"},
		{name: "control char in cookie", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\ncookie: a\x00b\r\nInfohash: " + hexA + "\r\n", wantErr: "control character"},
		{name: "CR inside host", in: "BT-SEARCH * HTTP/1.1\r\nHost: a\rb\r\nPort: 1\r\nInfohash: " + hexA + "\r\n", wantErr: "control character"},
		{name: "long cookie", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\ncookie: " + strings.Repeat("x", 300) + "\r\nInfohash: " + hexA + "\r\n", wantErr: "exceeds"},
		{name: "oversized packet", in: "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + hexA + "\r\n\r\n" + strings.Repeat(" ", 1400), wantErr: "exceeds 1400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAnnounce([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseAnnounceKeepsAtMostMaxInfoHashes(t *testing.T) {
	var b strings.Builder
	b.WriteString("BT-SEARCH * HTTP/1.1\nPort: 1\n")
	for i := range MaxInfoHashes + 5 {
		fmt.Fprintf(&b, "Infohash: %040x\n", i+1)
	}
	if b.Len() > MaxPacketSize {
		t.Fatalf("test packet of %d bytes too big", b.Len())
	}
	a, err := ParseAnnounce([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.InfoHashes) != MaxInfoHashes || a.InfoHashes[0][19] != 1 || a.InfoHashes[MaxInfoHashes-1][19] != MaxInfoHashes {
		t.Fatalf("kept %d hashes: %v", len(a.InfoHashes), a.InfoHashes)
	}
}

func TestMarshal(t *testing.T) {
	ihA, ihB := mustHash(t, hexA), mustHash(t, hexB)
	a := Announce{Host: Group4, Port: 6881, InfoHashes: []metainfo.InfoHash{ihA, ihB}, Cookie: "c00k1e"}
	want := "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + hexA +
		"\r\nInfohash: " + hexB + "\r\ncookie: c00k1e\r\n\r\n\r\n"
	if got := string(a.Marshal()); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	back, err := ParseAnnounce(a.Marshal())
	if err != nil || !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}

	// No cookie header when there is no cookie; control characters cannot
	// smuggle in a header of their own.
	evil := Announce{Host: "h\r\nPort: 1", Port: 2, InfoHashes: []metainfo.InfoHash{ihA}}
	out := evil.Marshal()
	if bytes.Contains(out, []byte("cookie")) {
		t.Fatalf("cookie header without a cookie: %q", out)
	}
	back, err = ParseAnnounce(out)
	if err != nil || back.Port != 2 || back.Host != "hPort: 1" {
		t.Fatalf("sanitised round trip: %+v, %v", back, err)
	}
}

func TestMarshalFullBatchFitsPacket(t *testing.T) {
	a := Announce{Host: Group6, Port: 65535, Cookie: strings.Repeat("c", 16)}
	for i := range MaxInfoHashes {
		a.InfoHashes = append(a.InfoHashes, metainfo.InfoHash{byte(i)})
	}
	pkt := a.Marshal()
	if len(pkt) > MaxPacketSize {
		t.Fatalf("a full batch is %d bytes, over BEP 14's %d", len(pkt), MaxPacketSize)
	}
	if back, err := ParseAnnounce(pkt); err != nil || len(back.InfoHashes) != MaxInfoHashes {
		t.Fatalf("full batch does not parse back: %v", err)
	}
}
