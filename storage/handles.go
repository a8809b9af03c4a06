package storage

import (
	"container/list"
	"os"
	"sync"
)

// handle is one open file of the torrent, shared by everyone who reads or
// writes that file while it is open.
type handle struct {
	file     int      // index in Info.Files
	f        *os.File // the open file
	direct   *os.File // the same file opened for O_DIRECT writes, or nil
	writable bool     // opened read-write (else read-only)
	refs     int      // operations using f right now
	idle     *list.Element
}

// closeFiles closes the handle's descriptors.
func (h *handle) closeFiles() {
	h.f.Close()
	if h.direct != nil {
		h.direct.Close()
	}
}

// openFunc opens file index file, for writing when writable is set. It may
// also return a second descriptor of the same file for direct writes.
type openFunc func(file int, writable bool) (f, direct *os.File, err error)

// handleCache is a bounded LRU cache of open files. Handles in use are never
// closed; when every slot is in use, acquire waits until one is released.
// Callers hold at most one handle at a time and only for one pread/pwrite,
// so the wait always ends.
type handleCache struct {
	mu       sync.Mutex
	released *sync.Cond // signalled when a handle goes idle or a slot frees
	limit    int
	open     map[int]*handle
	opening  map[int]bool // files being opened right now (counted in the limit)
	idle     *list.List   // handles with refs == 0; front = most recently used
	peak     int          // most slots ever taken at once (a test hook)
	closed   bool
	openFile openFunc
}

func newHandleCache(limit int, open openFunc) *handleCache {
	c := &handleCache{
		limit:    max(limit, 1),
		open:     make(map[int]*handle),
		opening:  make(map[int]bool),
		idle:     list.New(),
		openFile: open,
	}
	c.released = sync.NewCond(&c.mu)
	return c
}

// inUseSlots counts open handles plus opens in progress; never above limit.
func (c *handleCache) inUseSlots() int { return len(c.open) + len(c.opening) }

// acquire returns an open handle for file, read-write when writable is set.
// The caller must release it.
func (c *handleCache) acquire(file int, writable bool) (*handle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return nil, ErrClosed
		}
		if c.opening[file] {
			c.released.Wait()
			continue
		}
		if h := c.open[file]; h != nil {
			if h.writable || !writable {
				c.use(h)
				return h, nil
			}
			// Open read-only but needed for writing: reopen once idle.
			if h.refs > 0 {
				c.released.Wait()
				continue
			}
			c.closeIdle(h)
		}
		if c.inUseSlots() >= c.limit {
			back := c.idle.Back()
			if back == nil {
				c.released.Wait()
				continue
			}
			c.closeIdle(back.Value.(*handle))
		}
		c.opening[file] = true
		c.peak = max(c.peak, c.inUseSlots())
		c.mu.Unlock()
		f, direct, err := c.openFile(file, writable)
		c.mu.Lock()
		delete(c.opening, file)
		c.released.Broadcast()
		if err != nil {
			return nil, err
		}
		h := &handle{file: file, f: f, direct: direct, writable: writable, refs: 1}
		if c.closed {
			h.closeFiles()
			return nil, ErrClosed
		}
		c.open[file] = h
		return h, nil
	}
}

func (c *handleCache) use(h *handle) {
	if h.idle != nil {
		c.idle.Remove(h.idle)
		h.idle = nil
	}
	h.refs++
}

// closeIdle closes a handle nobody uses. Close errors are ignored: data
// durability is Sync's job, which reopens files if needed and reports.
func (c *handleCache) closeIdle(h *handle) {
	if h.idle != nil {
		c.idle.Remove(h.idle)
		h.idle = nil
	}
	delete(c.open, h.file)
	h.closeFiles()
	c.released.Broadcast()
}

func (c *handleCache) release(h *handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.refs == 0 {
		if c.closed {
			h.closeFiles()
		} else {
			h.idle = c.idle.PushFront(h)
		}
		c.released.Broadcast()
	}
}

// count returns the number of open handles.
func (c *handleCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inUseSlots()
}

// close closes every idle handle now and every busy one when released.
func (c *handleCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for _, h := range c.open {
		if h.refs == 0 {
			h.closeFiles()
		}
	}
	c.open = map[int]*handle{}
	c.idle.Init()
	c.released.Broadcast()
}
