package dht

import (
	"time"
)

// sweepInterval is how often unanswered queries are timed out; a query's
// timeout is therefore QueryTimeout plus at most this.
const sweepInterval = 100 * time.Millisecond

// maintain is the maintenance goroutine: it times out queries, pings the
// questionable nodes BEP 5's replacement rule asks about, refreshes stale
// buckets, rotates the token secret, expires stored peers and saves the
// state file, until Close.
func (n *Node) maintain() {
	defer n.wg.Done()
	ticker := time.NewTicker(sweepInterval)
	defer ticker.Stop()
	now := time.Now()
	nextTable := now.Add(time.Second)
	nextRotate := now.Add(tokenRotation)
	nextExpire := now.Add(time.Minute)
	nextSave := now.Add(n.cfg.SaveInterval)
	for {
		select {
		case <-n.ctx.Done():
			return
		case now = <-ticker.C:
		}
		n.sweep(now)
		if now.After(nextTable) {
			nextTable = now.Add(time.Second)
			n.tableMaintenance(now)
		}
		if now.After(nextRotate) {
			nextRotate = now.Add(tokenRotation)
			n.tokens.rotate()
		}
		if now.After(nextExpire) {
			nextExpire = now.Add(time.Minute)
			n.store.expire(now)
		}
		if n.cfg.StateFile != "" && now.After(nextSave) {
			nextSave = now.Add(n.cfg.SaveInterval)
			if err := n.saveState(); err != nil {
				n.log.Warn("dht: save state", "err", err)
			}
		}
	}
}

// tableMaintenance pings questionable nodes and starts one background
// lookup for the buckets due for a refresh (BEP 5: "picking a random ID in
// the range of the bucket and performing a find_nodes search on it").
func (n *Node) tableMaintenance(now time.Time) {
	ping, refresh := n.table.maintenance(now)
	for _, q := range ping {
		n.pingQuestionable(q)
	}
	if len(refresh) == 0 || !n.refreshing.CompareAndSwap(false, true) {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.refreshing.Store(false)
		for _, target := range refresh {
			if n.ctx.Err() != nil {
				return
			}
			n.findNode(n.ctx, target)
		}
	}()
}
