package peerconn

import (
	"fmt"
	"slices"
	"time"

	"shoal/peerwire"
)

// writer is the writer goroutine's own state.
type writer struct {
	c *Conn
	// buf is the batch being built; reused for every write.
	buf []byte
	// payload counts the block bytes in buf, added to the counters once
	// buf is written.
	payload int
	// spare is the emptied control slice handed back to the Conn, so that
	// taking the queue allocates nothing in steady state.
	spare []peerwire.Message
	// lastWrite is when the last write finished, for keep-alives.
	lastWrite time.Time
	// urgent: buf holds a control message more urgent than a HAVE.
	urgent bool
	// ahead holds what was read beyond the last block (readahead.go).
	ahead readAhead
}

// writeLoop is the writer goroutine: it sends queued control messages,
// then queued blocks, in batches, and keep-alives when idle. It ends when
// the Conn closes or a write fails.
func (c *Conn) writeLoop() {
	defer close(c.writerDoneC)
	w := &writer{c: c, lastWrite: time.Now()}
	idle := time.NewTimer(c.opts.KeepAlive)
	defer idle.Stop()
	// haveC fires when HAVEs held back to be sent together are due.
	haveTimer := time.NewTimer(haveDelay)
	haveTimer.Stop()
	defer haveTimer.Stop()
	var haveC <-chan time.Time
	for {
		if c.onlyHavesQueued() {
			// A HAVE can wait a moment for others to share its write: a
			// leecher in a swarm completes a hundred pieces a second and
			// tells each of its peers of every one.
			if haveC == nil {
				haveTimer.Reset(haveDelay)
				haveC = haveTimer.C
			}
		} else {
			if haveC != nil {
				haveTimer.Stop()
				haveC = nil
			}
			wrote, err := w.sendQueued()
			if err != nil {
				c.fail(err)
				return
			}
			if wrote {
				continue
			}
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.wakeC:
		case <-haveC:
			haveC = nil
			if _, err := w.sendQueued(); err != nil {
				c.fail(err)
				return
			}
		case <-idle.C:
			w.dropReadAhead() // nothing was sent for a while
			if since := time.Since(w.lastWrite); since < c.opts.KeepAlive {
				idle.Reset(c.opts.KeepAlive - since)
				continue
			}
			w.buf = peerwire.AppendMessage(w.buf[:0], peerwire.Message{KeepAlive: true})
			if err := w.flush(); err != nil {
				c.fail(err)
				return
			}
			idle.Reset(c.opts.KeepAlive)
		}
	}
}

// sendQueued writes what is queued, control messages before blocks, in
// writes of up to about maxBatchBytes. It reports whether it wrote anything.
func (w *writer) sendQueued() (bool, error) {
	c := w.c
	w.buf = w.buf[:0]
	w.payload = 0
	w.appendControl()
	wrote := false
	for len(w.buf) < maxBatchBytes {
		r, ok := c.takeUpload()
		if !ok {
			break
		}
		if !c.opts.UploadLimiters.allowNow(r.Length) {
			// Don't hold what is batched while we wait for tokens.
			if len(w.buf) > 0 {
				if err := w.flush(); err != nil {
					return true, err
				}
				wrote = true
			}
			wanted, err := w.waitUploadTokens(r.Length)
			if err != nil {
				return wrote, err
			}
			if !wanted {
				c.commitUpload()
				continue
			}
		}
		if err := w.appendBlock(r); err != nil {
			return wrote, err
		}
		// Control messages queued meanwhile go before the next block.
		w.appendControl()
	}
	if len(w.buf) == 0 {
		return wrote, nil
	}
	return true, w.flush()
}

// onlyHavesQueued reports whether HAVEs are all there is to send.
func (c *Conn) onlyHavesQueued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.control) == 0 || len(c.uploads) > 0 || c.closed {
		return false
	}
	for _, m := range c.control {
		if m.KeepAlive || m.ID != peerwire.Have {
			return false
		}
	}
	return true
}

// appendControl moves the queued control messages into the batch. It
// reports whether any is more urgent than a HAVE.
func (w *writer) appendControl() (urgent bool) {
	c := w.c
	c.mu.Lock()
	if len(c.control) == 0 || c.closed {
		c.mu.Unlock()
		return false
	}
	msgs := c.control
	c.control = w.spare[:0]
	c.mu.Unlock()
	for _, m := range msgs {
		w.buf = peerwire.AppendMessage(w.buf, m)
		urgent = urgent || m.KeepAlive || m.ID != peerwire.Have
	}
	// Drop the payload references so sent buffers can be collected.
	clear(msgs)
	w.spare = msgs[:0]
	return urgent
}

// appendBlock reads the block for r from storage straight into the batch,
// after its PIECE header, and takes it out again if r was cancelled while
// we waited for the limiter or the disk.
func (w *writer) appendBlock(r Request) error {
	c := w.c
	if !c.inFlightWanted() {
		// Cancelled while we waited for the limiter: skip the disk read.
		c.commitUpload()
		return nil
	}
	start := len(w.buf)
	w.buf = peerwire.AppendPieceHeader(w.buf, uint32(r.Piece), uint32(r.Begin), r.Length)
	w.buf = slices.Grow(w.buf, r.Length)
	data := w.buf[len(w.buf) : len(w.buf)+r.Length]
	if err := w.readBlock(r, data); err != nil {
		// We can't serve what we advertised; the loop learns why from
		// the Closed event.
		return fmt.Errorf("peerconn: reading upload block (piece %d, begin %d, length %d): %w",
			r.Piece, r.Begin, r.Length, err)
	}
	if !c.commitUpload() {
		w.buf = w.buf[:start]
		return nil
	}
	w.buf = w.buf[:len(w.buf)+r.Length]
	w.payload += r.Length
	return nil
}

// waitUploadTokens waits until the upload limiters allow n bytes, with the
// batch empty. Control messages queued meanwhile still go out, so the
// upload limit never holds back our own REQUESTs or HAVEs; and if the
// request is cancelled meanwhile, the wait stops and the tokens go back.
// It reports whether the request is still wanted.
func (w *writer) waitUploadTokens(n int) (bool, error) {
	lims := w.c.opts.UploadLimiters.active()
	burst := lims.burst()
	if burst <= 0 {
		return false, fmt.Errorf("peerconn: upload limiter with burst %d can never allow a byte", burst)
	}
	for n > 0 {
		// ReserveN refuses more than the burst at once.
		step := min(n, burst)
		rs, delay, err := lims.reserve(time.Now(), step)
		if err != nil {
			return false, err
		}
		wanted, err := w.waitReservation(rs, delay)
		if err != nil || !wanted {
			return false, err
		}
		n -= step
	}
	return true, nil
}

// controlDelay is the longest a control message waits while the writer
// waits for upload tokens, and haveDelay the longest a HAVE waits when
// nothing more urgent is queued: messages queued meanwhile are gathered
// into one write. An upload capped and shared by 40 peers sends each about
// six blocks a second, while the pieces a leecher completes send each peer
// a hundred HAVEs a second: a write (and a wake-up of the reader on the
// other end) per HAVE cost more CPU than the whole transfer. A HAVE late
// by a fraction of the time a block waits in a peer's queue costs little.
const (
	controlDelay = 20 * time.Millisecond
	haveDelay    = 100 * time.Millisecond
)

// waitReservation waits out delay for the reservations rs (see
// waitUploadTokens). Control messages queued meanwhile go out at most
// controlDelay after the first of them, or with the block if that is
// sooner; they are left in the batch for it.
func (w *writer) waitReservation(rs reservations, delay time.Duration) (bool, error) {
	c := w.c
	if delay <= 0 {
		return true, nil
	}
	due := time.Now().Add(delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var flushTimer *time.Timer
	var flushC <-chan time.Time
	defer func() {
		if flushTimer != nil {
			flushTimer.Stop()
		}
	}()
	for {
		select {
		case <-timer.C:
			return true, nil
		case <-c.ctx.Done():
			rs.cancel()
			return false, c.ctx.Err()
		case <-c.wakeC:
			if !c.inFlightWanted() {
				rs.cancel()
				return false, nil
			}
			urgent := w.appendControl()
			wait := haveDelay
			if urgent || w.urgent {
				wait = controlDelay
			}
			w.urgent = w.urgent || urgent
			if len(w.buf) > 0 && (flushC == nil || urgent) && time.Until(due) > wait {
				if flushTimer == nil {
					flushTimer = time.NewTimer(wait)
				} else {
					flushTimer.Reset(wait)
				}
				flushC = flushTimer.C
			}
		case <-flushC:
			flushC = nil
			w.appendControl() // HAVEs queued since, without a wake-up
			if err := w.flush(); err != nil {
				return false, err
			}
		}
	}
}

// flush writes the batch, with a deadline so a peer that stops reading
// can't block the writer forever.
func (w *writer) flush() error {
	c := w.c
	// It fails only on a closed connection, where the write fails too.
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	n, err := c.nc.Write(w.buf)
	c.bytesOut.Add(int64(n))
	w.lastWrite = time.Now()
	if err != nil {
		return fmt.Errorf("peerconn: write %d bytes to %v: %w", len(w.buf), c.nc.RemoteAddr(), err)
	}
	c.payloadOut.Add(int64(w.payload))
	w.buf = w.buf[:0]
	w.payload = 0
	w.urgent = false
	return nil
}

// takeUpload moves the next queued request in flight.
func (c *Conn) takeUpload() (Request, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.uploads) == 0 || c.closed {
		return Request{}, false
	}
	r := c.uploads[0]
	delete(c.queued, r)
	// Shift rather than reslice so the backing array is reused.
	n := copy(c.uploads, c.uploads[1:])
	c.uploads = c.uploads[:n]
	c.inFlight, c.hasInFlight, c.inFlightDropped = r, true, false
	return r, true
}

// inFlightWanted reports whether the in-flight request is still wanted.
func (c *Conn) inFlightWanted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasInFlight && !c.inFlightDropped && !c.closed
}

// commitUpload ends the in-flight request and reports whether it is still
// wanted (not cancelled or cleared while we waited for it).
func (c *Conn) commitUpload() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.hasInFlight && !c.inFlightDropped && !c.closed
	c.hasInFlight, c.inFlightDropped = false, false
	return keep
}
