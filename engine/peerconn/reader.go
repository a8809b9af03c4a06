package peerconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"shoal/peerwire"
)

// readLoop is the reader goroutine: it decodes messages and delivers them
// to the loop until the connection fails or closes, then finishes the Conn.
func (c *Conn) readLoop() {
	defer c.finish()
	r := peerwire.NewReader(countingReader{r: c.nc, n: &c.bytesIn}, peerwire.ReaderOptions{
		NumPieces:      c.opts.NumPieces,
		MaxExtendedLen: c.opts.MaxExtendedLen,
		Alloc:          c.opts.Alloc,
	})
	for {
		// A fresh deadline per message: any message, keep-alives included,
		// proves the peer is alive. Setting it fails only on a closed
		// connection, where the read below fails too and says why (net.Pipe
		// refuses once the far end is closed, though reads still drain
		// what was sent).
		_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		m, err := r.ReadMessage()
		if err != nil {
			c.fail(c.readError(err))
			return
		}
		if m.KeepAlive {
			// Only the read deadline cares about keep-alives.
			continue
		}
		isPiece := m.ID == peerwire.Piece
		if isPiece {
			c.payloadIn.Add(int64(len(m.Payload)))
		} else if len(m.Payload) > 0 {
			// Other payloads alias the Reader's buffer, which the next
			// ReadMessage overwrites while the loop may still use them.
			m.Payload = bytes.Clone(m.Payload)
		}
		if !c.deliver(m, isPiece) {
			return
		}
		if isPiece {
			// Paying for the bytes before reading more lets TCP flow
			// control slow the peer down to our download rate.
			if err := c.opts.DownloadLimiters.wait(c.ctx, len(m.Payload)); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

// deliver sends m to the loop; it gives up (and frees a piece buffer)
// when the Conn closes first, and reports whether m was delivered.
func (c *Conn) deliver(m peerwire.Message, isPiece bool) bool {
	if c.opts.Events != nil {
		select {
		case c.opts.Events <- Event{Conn: c, Msg: m}:
			return true
		case <-c.ctx.Done():
		}
	}
	if isPiece && c.opts.Free != nil {
		c.opts.Free(m.Payload)
	}
	// Without an Events channel messages are discarded, and reading goes
	// on until the Conn closes.
	return c.opts.Events == nil && c.ctx.Err() == nil
}

// readError says what went wrong with a read, keeping the cause for
// errors.Is (io.EOF when the peer hung up).
func (c *Conn) readError(err error) error {
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("peerconn: peer %v closed the connection: %w", c.nc.RemoteAddr(), err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("peerconn: nothing received from %v for %v: %w", c.nc.RemoteAddr(), c.opts.ReadTimeout, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return fmt.Errorf("peerconn: read from %v: %w", c.nc.RemoteAddr(), err)
	}
	// Anything else is the peer's malformed data.
	return fmt.Errorf("peerconn: bad message from %v: %w", c.nc.RemoteAddr(), err)
}

// countingReader counts the bytes read from the socket.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n.Add(int64(n))
	return n, err
}
