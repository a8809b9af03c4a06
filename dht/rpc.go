package dht

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"shoal/dht/krpc"
)

// errTimeout is the error of a query that got no reply in time.
var errTimeout = errors.New("dht: query timed out")

// errRateLimited is the error of a background query dropped by the
// outgoing rate limit.
var errRateLimited = errors.New("dht: outgoing query rate limit reached")

// transaction is one query in flight. done runs exactly once, with the
// reply (a response or an error message) or an error, from the goroutine
// that completes it; it must not block.
type transaction struct {
	addr     netip.AddrPort
	deadline time.Time
	done     func(*krpc.Msg, error)
}

// transactions maps 2-byte transaction ids (BEP 5: "2 characters are
// enough") to the queries in flight. A reply completes a query only if it
// comes from the address the query went to, so a third party that guesses
// an id cannot answer for another node.
type transactions struct {
	mu      sync.Mutex
	next    uint16
	pending map[string]*transaction
}

func (ts *transactions) init() {
	ts.next = uint16(rand.Uint32())
	ts.pending = make(map[string]*transaction)
}

// add registers t under a free id and returns the id.
func (ts *transactions) add(t *transaction) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.pending) >= 1<<16 {
		return "", errors.New("dht: every transaction id is in use")
	}
	for {
		ts.next++
		tid := string(binary.BigEndian.AppendUint16(nil, ts.next))
		if ts.pending[tid] == nil {
			ts.pending[tid] = t
			return tid, nil
		}
	}
}

// take removes and returns the transaction tid if it went to addr.
func (ts *transactions) take(tid string, addr netip.AddrPort) *transaction {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.pending[tid]
	if t == nil || t.addr != addr {
		return nil
	}
	delete(ts.pending, tid)
	return t
}

// expired removes and returns the transactions past their deadline.
func (ts *transactions) expired(now time.Time) []*transaction {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []*transaction
	for tid, t := range ts.pending {
		if !now.Before(t.deadline) {
			delete(ts.pending, tid)
			out = append(out, t)
		}
	}
	return out
}

// failAll completes every transaction with err (on Close).
func (ts *transactions) failAll(err error) {
	ts.mu.Lock()
	list := make([]*transaction, 0, len(ts.pending))
	for tid, t := range ts.pending {
		delete(ts.pending, tid)
		list = append(list, t)
	}
	ts.mu.Unlock()
	for _, t := range list {
		t.done(nil, err)
	}
}

// queryMsg builds one of our queries.
func (n *Node) queryMsg(tid, method string, args *krpc.Args) *krpc.Msg {
	args.ID = n.id
	m := &krpc.Msg{T: tid, Y: krpc.KindQuery, Q: method, A: args, V: n.cfg.Version}
	if n.cfg.ReadOnly {
		m.RO = 1 // BEP 43
	}
	return m
}

// start sends a query and registers done for its outcome. The caller has
// already passed the outgoing rate limit.
func (n *Node) start(addr netip.AddrPort, method string, args *krpc.Args, done func(*krpc.Msg, error)) error {
	if n.closed.Load() {
		return errors.New("dht: node closed")
	}
	m := n.queryMsg("", method, args)
	tx := &transaction{addr: addr, deadline: time.Now().Add(n.cfg.QueryTimeout), done: done}
	tid, err := n.txs.add(tx)
	if err != nil {
		return err
	}
	m.T = tid
	n.stats.queriesOut.Add(1)
	if err := n.send(addr, m); err != nil {
		if n.txs.take(tid, addr) != nil {
			return fmt.Errorf("dht: send %s to %v: %w", method, addr, err)
		}
		return nil // completed meanwhile (e.g. by Close)
	}
	return nil
}

// query sends a query and waits for its reply, the timeout or ctx. An
// error reply comes back as a *krpc.Error.
func (n *Node) query(ctx context.Context, addr netip.AddrPort, method string, args *krpc.Args) (*krpc.Msg, error) {
	if err := n.out.Wait(ctx); err != nil {
		return nil, err
	}
	type outcome struct {
		m   *krpc.Msg
		err error
	}
	ch := make(chan outcome, 1)
	if err := n.start(addr, method, args, func(m *krpc.Msg, err error) { ch <- outcome{m, err} }); err != nil {
		return nil, err
	}
	var o outcome
	select {
	case o = <-ch:
	case <-ctx.Done():
		// The maintenance sweep or a late reply completes the transaction;
		// the buffered channel takes its outcome.
		return nil, ctx.Err()
	case <-n.ctx.Done():
		// Closing: the sweep that would time this query out has stopped.
		return nil, net.ErrClosed
	}
	if o.err != nil {
		return nil, o.err
	}
	if o.m.Y == krpc.KindError {
		return o.m, o.m.E
	}
	return o.m, nil
}

// pingAsync pings addr in the background; done (optional) gets the
// outcome. Background pings give way to the rate limit rather than wait.
func (n *Node) pingAsync(addr netip.AddrPort, done func(error)) {
	finish := func(err error) {
		if done != nil {
			done(err)
		}
	}
	if !n.out.Allow() {
		finish(errRateLimited)
		return
	}
	err := n.start(addr, krpc.MethodPing, &krpc.Args{}, func(m *krpc.Msg, err error) {
		if err == nil && m.Y == krpc.KindError {
			err = m.E
		}
		finish(err)
	})
	if err != nil {
		finish(err)
	}
}

// handleReply completes the query a response or error answers, and
// updates the routing table: a node that answered is good (BEP 5).
func (n *Node) handleReply(m *krpc.Msg, src netip.AddrPort) {
	tx := n.txs.take(m.T, src)
	if tx == nil {
		return // late, unsolicited or from the wrong address
	}
	now := time.Now()
	if m.Y == krpc.KindError {
		n.stats.errorsIn.Add(1)
		// It answered, so it is alive, but an error tells nothing of its
		// id; the table keeps what it knew.
		tx.done(m, nil)
		return
	}
	n.stats.repliesIn.Add(1)
	if m.IP.IsValid() {
		n.external.Store(m.IP.AddrPort)
	}
	id := ID(m.R.ID)
	if id != (ID{}) {
		if q := n.table.onReply(id, src, VerifyID(id, src.Addr()), now); q.IsValid() {
			n.pingQuestionable(q)
		}
	}
	tx.done(m, nil)
}

// pingQuestionable pings a questionable table node so BEP 5's replacement
// rule can run: a reply keeps it good, failures make it bad and replaced.
func (n *Node) pingQuestionable(addr netip.AddrPort) {
	n.pingAsync(addr, func(err error) {
		if err != nil {
			n.table.pingDone(addr)
		}
	})
}

// sweep fails the queries past their deadline and counts them against
// their nodes.
func (n *Node) sweep(now time.Time) {
	for _, tx := range n.txs.expired(now) {
		n.stats.timeouts.Add(1)
		n.table.onFailure(tx.addr, now)
		tx.done(nil, errTimeout)
	}
}
