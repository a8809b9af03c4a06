package tracker

import (
	"net/netip"
	"slices"
	"testing"
)

// TestParseHTTPAnnouncePeerAddresses holds the peer-address cases the
// fuzzer's round trip found or that guard the same rule: only addresses
// we can dial as given are kept.
func TestParseHTTPAnnouncePeerAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{
			// Found by FuzzParseHTTPAnnounce: the zone named an interface
			// of the tracker's host, and the peer was kept with it.
			name: "zoned IPv6 in a peer dictionary is skipped",
			body: "d8:intervali60e5:peersld2:ip14:fe80::1%eth0:04:porti80eed2:ip9:192.0.2.54:porti6881eeee",
			want: []string{"192.0.2.5:6881"},
		},
		{
			name: "IPv6 and a host name in peer dictionaries",
			body: "d8:intervali60e5:peersld2:ip11:2001:db8::14:porti51413eed2:ip16:peer.example.org4:porti6881eeee",
			want: []string{"[2001:db8::1]:51413"},
		},
		{
			name: "IPv4-mapped compact peers6 entry becomes IPv4",
			body: "d8:intervali60e5:peers0:6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\x00\x02\x07\x1a\xe1e",
			want: []string{"192.0.2.7:6881"},
		},
		{
			name: "port 0 and unspecified addresses are skipped",
			body: "d8:intervali60e5:peers12:\x00\x00\x00\x00\x1a\xe1\xc0\x00\x02\x01\x00\x00e",
			want: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseHTTPAnnounce([]byte(tc.body), 50)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, p := range r.Peers {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("peers %q, want %q", got, tc.want)
			}
			for _, p := range r.Peers {
				if p.Addr().Zone() != "" || p.Addr() != p.Addr().Unmap() || p.Port() == 0 || p.Addr() == (netip.Addr{}) {
					t.Fatalf("undialable peer %v kept", p)
				}
			}
		})
	}
}
