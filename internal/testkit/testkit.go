// Package testkit holds helpers shared by several packages' tests: a
// directory outside the download directory that must not change, a fake
// peer that serves a torrent's metadata (BEP 9) however it is told to,
// and a wait for goroutines to end. Nothing outside tests imports it.
package testkit

import (
	"runtime"
	"testing"
	"time"
)

// WaitGoroutines waits for the goroutine count to fall back to before
// (taken when the test started), and fails the test with every
// goroutine's stack if it has not within 5 seconds.
func WaitGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
