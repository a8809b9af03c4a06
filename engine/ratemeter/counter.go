package ratemeter

import "sync/atomic"

// Counter is a running byte total that any goroutine may add to while
// another reads it. The zero value is ready to use; a Counter must not be
// copied after first use.
type Counter struct {
	n atomic.Int64
}

// Add adds n bytes to the total.
func (c *Counter) Add(n int64) { c.n.Add(n) }

// Load returns the total so far.
func (c *Counter) Load() int64 { return c.n.Load() }
