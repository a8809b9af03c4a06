package engine

import (
	"time"

	"shoal/engine/choker"
	"shoal/engine/peerconn"
	"shoal/storage"
)

// A session may hold thousands of torrents that have nothing to do: seeding
// with no peer connected, or stopped. Such a torrent costs only its memory:
// no timer fires, no file is open, the buffers of the peer machinery are
// not allocated until a first peer arrives, and its loop goroutine parks:
// it ends, and wake starts a new one when the torrent is needed again (an
// API call, an incoming connection, the end of the session). A goroutine
// blocked in select would cost its stack and one waiter per channel (about
// 6 KiB), more than everything else an idle torrent holds.
//
// The state still has one owner at a time: the loop goroutine, started
// only by enter while none runs, and parking only under wakeMu when no
// sender is between enter and its send and no channel holds a message.

// tickInterval is the period of the loop's housekeeping while it has work.
const tickInterval = time.Second

// eventBuffer is how many peer messages may wait for the loop.
const eventBuffer = 256

// busy reports whether the loop has once-a-second work: peers to serve
// (rates, request timeouts, choking), connections being made, pieces in
// flight or being hashed, resume data to save (only with a resume store:
// without one, resumeDirty stays set for good), or rates still to decay
// to zero.
func (t *Torrent) busy() bool {
	return len(t.peers) > 0 || t.dialing > 0 || len(t.pieces) > 0 || t.hashing() ||
		(t.resumeDirty && t.s.resume != nil) ||
		t.counters.downRate != 0 || t.counters.upRate != 0
}

// hashing reports whether pieces may be being hashed or written: complete
// pieces leave t.pieces when they go to be hashed, but stay among the
// picker's pieces in progress until their result comes back. Their
// results are sent on pieceC without enter, and their writes need the
// storage open, so the loop must neither park nor close the files
// meanwhile (a piece of a file skipped since can leave nothing wanted, so
// the torrent seeding, while it is hashed).
func (t *Torrent) hashing() bool {
	return t.picker != nil && t.picker.NumPartial() > 0
}

// schedule arms the tick timer for the loop's next periodic work, or
// disarms it when there is none. It runs before every wait of the loop,
// so it is cheap when the timer is already right.
func (t *Torrent) schedule() {
	if !t.active() {
		t.disarm()
		return
	}
	now := time.Now()
	if t.busy() {
		if t.tickAt.IsZero() {
			t.arm(now, now.Add(tickInterval))
		}
		return
	}
	// Idle: wake only to retry a known address when its back-off ends.
	if next := t.nextRetry(); !next.IsZero() {
		if soonest := now.Add(tickInterval); next.Before(soonest) {
			next = soonest // never spin on an address already due
		}
		if t.tickAt.IsZero() || next.Before(t.tickAt) {
			t.arm(now, next)
		}
	} else {
		t.disarm()
	}
	t.closeIdleFiles()
}

func (t *Torrent) arm(now, at time.Time) {
	t.tickAt = at
	if t.tickTimer == nil {
		t.tickTimer = time.NewTimer(at.Sub(now))
		return
	}
	t.tickTimer.Reset(at.Sub(now))
}

func (t *Torrent) disarm() {
	if !t.tickAt.IsZero() {
		t.tickTimer.Stop()
		t.tickAt = time.Time{}
	}
}

// tickC is the tick timer's channel; nil (never ready) without a timer.
func (t *Torrent) tickC() <-chan time.Time {
	if t.tickTimer == nil {
		return nil
	}
	return t.tickTimer.C
}

// enter wakes the loop if it is parked and counts the caller as a sender
// until leave is called: the loop does not park meanwhile, so a send after
// enter is always received. Every goroutine other than the loop that sends
// to the torrent's channels while it may be idle calls it. When the send
// succeeds, the loop calls leave as it takes the message (so it never
// waits for a count that only the sender could end); when it does not, the
// sender does.
func (t *Torrent) enter() (leave func()) {
	t.wakeMu.Lock()
	t.senders++
	if !t.looping && !t.loopEnded {
		t.looping = true
		go t.loop()
	}
	t.wakeMu.Unlock()
	return t.leave
}

func (t *Torrent) leave() {
	t.wakeMu.Lock()
	t.senders--
	t.wakeMu.Unlock()
}

// parkable reports whether the torrent is idle enough for its loop
// goroutine to end: nothing but enter can then need the loop. A torrent
// whose peer sources run does not park (they send without enter).
func (t *Torrent) parkable() bool {
	if t.busy() || !t.tickAt.IsZero() || t.stopSources != nil || t.dialing > 0 || len(t.waiting) > 0 {
		return false
	}
	switch t.state {
	case StateSeeding, StateChecking:
		// Seeding: every wanted piece is verified and written, so no
		// piece is being hashed. Checking: the check reports with enter.
		// A resume save in progress reports with enter too.
		return true
	case StateStopped, StateError:
		// Stopping leaves pieces being hashed to report on pieceC: park
		// only a torrent that never had a peer in this session.
		return t.pieceC == nil
	}
	return false
}

// park ends the loop goroutine if the torrent is idle, and reports
// whether it did.
func (t *Torrent) park() bool {
	if !t.parkable() {
		return false
	}
	t.wakeMu.Lock()
	defer t.wakeMu.Unlock()
	if t.senders > 0 || t.ctx.Err() != nil || len(t.connC) > 0 || len(t.checkC) > 0 ||
		len(t.resumeC) > 0 || len(t.dialC) > 0 || len(t.eventC) > 0 || len(t.pieceC) > 0 {
		return false
	}
	if t.tickTimer != nil {
		t.tickTimer.Stop()
		t.tickTimer = nil // a parked torrent keeps no timer
	}
	t.pickBuf = nil
	t.looping = false
	return true
}

// end marks the loop as ended for good, when the torrent is removed or the
// session closes.
func (t *Torrent) end() {
	t.wakeMu.Lock()
	t.loopEnded, t.looping = true, false
	t.wakeMu.Unlock()
	if t.tickTimer != nil {
		t.tickTimer.Stop()
	}
	t.dropUndelivered()
	close(t.loopDoneC)
	t.s.wg.Done()
}

// ended reports whether the loop has ended for good.
func (t *Torrent) ended() bool {
	t.wakeMu.Lock()
	defer t.wakeMu.Unlock()
	return t.loopEnded
}

// dropUndelivered closes the connections, and frees the pieces, left in
// the loop's buffered channels once it has ended for good: a sender whose
// select found both room in the channel and the torrent's context done
// may have sent after the loop's last receive. The loop calls it as it
// ends, and a sender that finds the loop ended after its send calls it
// too (see afterSend): whichever runs last finds what was sent.
func (t *Torrent) dropUndelivered() {
	for {
		select {
		case hc := <-t.connC:
			hc.nc.Close()
		case r := <-t.dialC: // nil (never ready) before the first peer
			if r.hc != nil {
				r.hc.nc.Close()
			}
		case r := <-t.pieceC:
			t.s.budget.Release(int64(len(r.buf.data)))
			t.s.pieceBufs.put(r.buf.data)
		default:
			return
		}
	}
}

// afterSend is called by a goroutine other than the loop after it sent a
// connection (or a hashed piece) to the loop: if the loop has ended for
// good meanwhile, nothing will take it, so it is closed (freed) here.
func (t *Torrent) afterSend() {
	if t.ended() {
		t.dropUndelivered()
	}
}

// nextRetry returns when the earliest known address that is neither
// connected nor being dialled may be tried again; zero if there is none.
func (t *Torrent) nextRetry() time.Time {
	var next time.Time
	for _, kp := range t.known {
		if kp.connected || kp.dialing {
			continue
		}
		if next.IsZero() || kp.nextTry.Before(next) {
			next = kp.nextTry
		}
	}
	return next
}

// closeIdleFiles closes the files of a seeding torrent that no peer uses:
// thousands of idle torrents must not hold thousands of descriptors, nor
// the tables of their storage. The storage becomes a lazyStorage, which
// opens it again on first use. Only a seeding torrent without peers
// qualifies: nothing can then be reading, writing or hashing through the
// storage, and no resume save (which syncs it) is in progress.
func (t *Torrent) closeIdleFiles() {
	if t.state != StateSeeding || t.savingResume || len(t.peers) > 0 || len(t.pieces) > 0 {
		return
	}
	var err error
	switch st := t.st.(type) {
	case *storage.FileStorage:
		err = st.Close()
		// A sync failure reported by this Close must outlive it: the
		// lazy storage refuses to pretend the data is safe.
		t.st = newLazyStorage(t, t.wantedFiles(), err)
	case *lazyStorage:
		err = st.release()
	}
	if err != nil {
		t.s.log.Warn("closing idle files", "torrent", t.info.Name, "err", err)
	}
}

// ensurePeerChans allocates what only connections use: the channels of
// peer events, hashed pieces and dials, and the choker. The loop calls it
// before its first dial or peer (so before any piece can be hashed); the
// goroutines that send on these channels start after it.
func (t *Torrent) ensurePeerChans() {
	if t.eventC == nil {
		t.eventC = make(chan peerconn.Event, eventBuffer)
		t.pieceC = make(chan pieceResult, 16)
		t.dialC = make(chan dialResult, 8)
		t.choker = choker.New(t.s.cfg.UploadSlots, nil)
	}
}
