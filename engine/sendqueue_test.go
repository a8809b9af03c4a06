package engine

import (
	"testing"

	"shoal/engine/peerconn"
)

// A connection must be able to queue a full top-up of requests, a cancel
// for each and a burst of batched HAVEs without overflowing: an overflow
// closes the connection (peerconn.ErrSendOverflow) and stalls the download.
func TestSendQueueHoldsATopUp(t *testing.T) {
	const havesPerBatch = 1000 // 100 ms of HAVEs at 10,000 pieces a second
	if need := 2*maxReqq + havesPerBatch; maxSendQueue < need {
		t.Fatalf("maxSendQueue %d < %d requests + cancels + HAVEs", maxSendQueue, need)
	}
	if maxSendQueue <= peerconn.DefaultMaxSendQueue {
		t.Fatalf("maxSendQueue %d is not above peerconn's default %d, which overflowed with reqq 2000",
			maxSendQueue, peerconn.DefaultMaxSendQueue)
	}
}
