package engine

import (
	"testing"

	"shoal/metainfo"
)

func TestWantDirectWrites(t *testing.T) {
	tests := []struct {
		name        string
		cached      bool
		pieceLength int64
		interested  []bool // per connected peer: is it interested in us
		want        bool
	}{
		{"large pieces, no peer", false, 1 << 20, nil, true},
		{"large pieces, peers not interested (seeders)", false, 1 << 20, []bool{false, false}, true},
		{"a peer wants our pieces", false, 1 << 20, []bool{false, true}, false},
		{"small pieces", false, 32 << 10, nil, false},
		{"just at the threshold", false, directMinPiece, nil, true},
		{"cached writes configured", true, 4 << 20, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tor := &Torrent{
				s:     &Session{cfg: Config{CachedWrites: tc.cached}},
				info:  &metainfo.Info{PieceLength: tc.pieceLength},
				peers: map[int]*peer{},
			}
			for i, in := range tc.interested {
				tor.peers[i] = &peer{peerInterested: in}
			}
			if got := tor.wantDirectWrites(); got != tc.want {
				t.Errorf("wantDirectWrites() = %v, want %v", got, tc.want)
			}
		})
	}
}
