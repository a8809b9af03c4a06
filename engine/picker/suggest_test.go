package picker

import (
	"testing"
)

// A suggested piece (BEP 6 SUGGEST) is started before the piece rarest
// first would pick, once, and only when it can be taken.
func TestSuggestedPieceFirst(t *testing.T) {
	const n = 20
	p := newPicker(n, 2, Options{Seed: 3})
	mustAdd(t, p, 1, allBut(n))
	mustAdd(t, p, 2, bf(n, 7)) // piece 7 is the only one peer 2 has: the rarest is elsewhere
	// Rarest first would pick a piece only peer 1 has (availability 1);
	// peer 1 suggests 7, which two peers have.
	p.Suggest(1, 7)
	got := p.Pick(1, 2)
	if len(got) != 2 || got[0].Piece != 7 || got[1].Piece != 7 {
		t.Fatalf("after SUGGEST 7 picked %v, want both blocks of piece 7", got)
	}
	next := p.Pick(1, 2)
	if len(next) == 0 || next[0].Piece == 7 {
		t.Fatalf("the suggestion was used twice: %v", next)
	}
	mustInvariants(t, p)
}

func TestSuggestionsPassedOver(t *testing.T) {
	const n = 20
	for _, tc := range []struct {
		name  string
		setup func(p *Picker)
	}{
		{"we have it", func(p *Picker) { p.PieceVerified(4) }},
		{"skipped", func(p *Picker) { _ = p.SetPriority(4, Skip) }},
		{"the peer lacks it", func(p *Picker) {}},
		{"lower priority than another fresh piece", func(p *Picker) { _ = p.SetPriority(9, High) }},
		{"sequential", func(p *Picker) { p.SetSequential(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(n, 1, Options{Seed: 5})
			has := allBut(n)
			if tc.name == "the peer lacks it" {
				has = allBut(n, 4)
			}
			mustAdd(t, p, 1, has)
			tc.setup(p)
			p.Suggest(1, 4)
			for _, b := range p.Pick(1, 1) {
				if b.Piece == 4 {
					t.Fatalf("picked the suggested piece 4 although %s", tc.name)
				}
			}
			mustInvariants(t, p)
		})
	}
}

// A peer sending SUGGEST after SUGGEST costs a bounded list: the newest
// are kept.
func TestSuggestionsBounded(t *testing.T) {
	const n = 100
	p := newPicker(n, 1, Options{Seed: 1})
	mustAdd(t, p, 1, allBut(n))
	for i := range n {
		p.Suggest(1, i)
		p.Suggest(1, i) // a repeat is not kept twice
	}
	p.Suggest(1, -1)
	p.Suggest(1, n) // out of range: ignored
	if got := len(p.peers[1].suggested); got != maxSuggestions {
		t.Fatalf("%d suggestions kept, want %d", got, maxSuggestions)
	}
	if got := p.Pick(1, 1); len(got) != 1 || got[0].Piece != n-maxSuggestions {
		t.Fatalf("picked %v, want the oldest kept suggestion %d", got, n-maxSuggestions)
	}
}
