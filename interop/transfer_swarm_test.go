package interop

import "testing"

// TestSwarm runs three-client swarms: one client is the only seeder and two
// others, Shoal always among the three, download at the same time from it
// and from each other. Peers are introduced directly: Shoal and libtorrent
// dial the addresses they are given; aria2 and Transmission only accept
// connections (Transmission will not dial 127.x, aria2 cannot be told a
// peer), so the others dial them. Every client must end with every file
// byte for byte.
func TestSwarm(t *testing.T) {
	t.Parallel()
	requireShoal(t)

	t.Run("libtorrent-seeds/shoal+aria2-leech", func(t *testing.T) {
		requireLibtorrent(t)
		f := makeFixture(t, swarmCase)
		aria, ariaAddr, ariaDir := aria2Leech(t, f)
		_, ltAddr := ltSeed(t, f, ariaAddr)
		get, getDir := shoalGet(t, f, ltAddr, ariaAddr)
		finishShoalGet(t, get, f, getDir)
		finishAria2Leech(t, aria, f, ariaDir)
	})

	t.Run("libtorrent-seeds/shoal+transmission-leech", func(t *testing.T) {
		requireLibtorrent(t)
		f := makeFixture(t, swarmCase)
		tr := startTransmission(t)
		id, trDir := transmissionLeech(t, tr, f)
		_, ltAddr := ltSeed(t, f, tr.peerAddr)
		get, getDir := shoalGet(t, f, ltAddr, tr.peerAddr)
		finishShoalGet(t, get, f, getDir)
		finishTransmissionLeech(t, tr, id, f, trDir)
	})

	t.Run("shoal-seeds/libtorrent+aria2-leech", func(t *testing.T) {
		requireLibtorrent(t)
		f := makeFixture(t, swarmCase)
		aria, ariaAddr, ariaDir := aria2Leech(t, f)
		seed, shoalAddr := shoalSeed(t, f, ariaAddr)
		lt, ltDir := ltDownload(t, f, shoalAddr, ariaAddr)
		finishLtDownload(t, lt, f, ltDir)
		finishAria2Leech(t, aria, f, ariaDir)
		stopShoalSeed(t, seed)
	})
}
