package dht

import (
	"net/netip"
	"testing"
)

// FuzzDispatch feeds arbitrary datagrams to a live node as if they came
// from another node: nothing may panic and the routing table must keep
// its invariants. The corpus holds real-looking messages of every kind.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234566:scrapei1ee1:q9:get_peers1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567894:porti-5ee1:q13:announce_peer1:t2:zz1:y1:qe",
		"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
	} {
		f.Add([]byte(s))
	}
	n, err := New(Config{ListenAddr: "127.0.0.214:0", SourceRate: 1e9, SourceBurst: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	defer n.Close()
	src := netip.MustParseAddrPort("127.0.0.215:9") // discard port: replies go nowhere
	f.Fuzz(func(t *testing.T, data []byte) {
		n.dispatch(data, src)
		n.table.mu.Lock()
		defer n.table.mu.Unlock()
		for i, b := range n.table.buckets {
			if len(b.nodes) > bucketSize || len(b.replacements) > replacementsPerBk {
				t.Fatalf("bucket %d: %d nodes, %d replacements", i, len(b.nodes), len(b.replacements))
			}
			for _, tn := range b.nodes {
				if tn.id == n.id || n.table.bucketIndex(tn.id) != i {
					t.Fatalf("node %v misplaced in bucket %d", tn.id, i)
				}
			}
		}
	})
}
