package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// quietRunnable is the most runnable tasks (this process included) that
// count as a quiet machine: one other task, at most, beside the reader.
const quietRunnable = 2

// waitQuiet waits, for at most limit, until the machine has looked quiet
// for half a second (see runnableTasks), and reports whether it did. The
// project's machine is shared: other benchmarks start hundreds of
// processes in bursts, and a run that overlaps one measures them, not us.
func waitQuiet(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	calm := 0
	for {
		if n, ok := runnableTasks(); ok && n <= quietRunnable {
			calm++
			if calm == 5 {
				return true
			}
		} else {
			calm = 0
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runnableTasks reads the number of runnable tasks right now: the first
// half of the fourth field of /proc/loadavg ("2/118").
func runnableTasks() (int, bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	return parseRunnable(string(data))
}

// parseRunnable reads the runnable task count out of /proc/loadavg's text.
func parseRunnable(loadavg string) (int, bool) {
	fields := strings.Fields(loadavg)
	if len(fields) < 4 {
		return 0, false
	}
	running, _, ok := strings.Cut(fields[3], "/")
	n, err := strconv.Atoi(running)
	return n, ok && err == nil
}
