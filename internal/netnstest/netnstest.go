// Package netnstest gives tests a small private network: two Linux network
// namespaces joined by a veth pair, each with IPv4 and IPv6 addresses, a
// route for multicast and its loopback interface up. Traffic between the
// two sides crosses a real link (multicast included, which loopback alone
// cannot show), while nothing can reach the host's own interfaces.
//
// It needs root and the ip command (iproute2). RequireRoot skips a test
// without them, except under CI=true, where a skip would hide that the
// test never ran.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// namePrefix starts the name of every namespace this package creates;
// the rest is "<pid>-<counter>-<side>", so the names of two pairs never
// collide, within one test process or across the processes `go test ./...`
// runs in parallel, and namespaces left by a killed process can be told
// apart from those of a running one.
const namePrefix = "shoal-netns-"

// legacyPrefix named the namespaces of lsd's test before this package:
// "shoal-lsd-<a|b>-<pid>". Stale ones are removed too.
const legacyPrefix = "shoal-lsd-"

// Addresses of the two sides. Every pair is its own isolated network, so
// all pairs can use the same ones.
const (
	v4A, v4B = "10.231.0.1", "10.231.0.2"
	v6A, v6B = "fd00:5eed::1", "fd00:5eed::2"
)

// MulticastRoute is routed over the veth link on both sides, so a socket
// that sends to or joins an IPv4 multicast group without naming an
// interface uses the link (the namespaces have no default route).
const MulticastRoute = "239.0.0.0/8"

// pairCounter numbers the pairs of this process.
var pairCounter atomic.Uint64

// Side is one end of a pair.
type Side struct {
	NS   string // namespace name, for Command and `ip -n`
	Veth string // the veth interface inside NS (at most 15 characters)
	V4   string // IPv4 address of Veth (/24)
	V6   string // IPv6 address of Veth (/64), usable at once (no DAD)
}

// RequireRoot skips the test unless it runs as root with the ip command
// available; under CI=true it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs the ip command (iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", why)
	}
	t.Skip(why)
}

// Pair creates two namespaces joined by a veth pair, with addresses, the
// multicast route and lo up on both sides. t.Cleanup deletes them (and
// the veth pair with them). It calls RequireRoot first.
func Pair(t testing.TB) (a, b Side) {
	t.Helper()
	RequireRoot(t)
	removeStale(t)
	pid := os.Getpid()
	n := pairCounter.Add(1)
	// "s<pid>-<n><side>": pid_max is at most 4194304 (7 digits), so this
	// stays within the kernel's 15-character limit up to n = 9999.
	vethName := func(side string) string { return fmt.Sprintf("s%d-%d%s", pid, n, side) }
	a = Side{NS: fmt.Sprintf("%s%d-%d-a", namePrefix, pid, n), Veth: vethName("a"), V4: v4A, V6: v6A}
	b = Side{NS: fmt.Sprintf("%s%d-%d-b", namePrefix, pid, n), Veth: vethName("b"), V4: v4B, V6: v6B}
	if len(a.Veth) > 15 {
		t.Fatalf("veth name %q is longer than 15 characters", a.Veth)
	}
	for _, s := range []Side{a, b} {
		ip(t, "netns", "add", s.NS)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", s.NS).CombinedOutput(); err != nil {
				t.Errorf("deleting namespace %s: %v\n%s", s.NS, err, out)
			}
		})
	}
	// Both ends are created directly inside their namespaces: the veth
	// pair never exists in the host's namespace.
	ip(t, "link", "add", a.Veth, "netns", a.NS, "type", "veth", "peer", "name", b.Veth, "netns", b.NS)
	for _, s := range []Side{a, b} {
		ip(t, "-n", s.NS, "link", "set", "lo", "up")
		ip(t, "-n", s.NS, "addr", "add", s.V4+"/24", "dev", s.Veth)
		ip(t, "-n", s.NS, "-6", "addr", "add", s.V6+"/64", "dev", s.Veth, "nodad")
		ip(t, "-n", s.NS, "link", "set", s.Veth, "up")
		ip(t, "-n", s.NS, "route", "add", MulticastRoute, "dev", s.Veth)
	}
	return a, b
}

// Command returns a command that runs name with args inside namespace ns.
// `ip netns exec` execs name in place, so the command's process is name
// itself: its pid can be signalled directly.
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// removeStale deletes namespaces left by an earlier test process that was
// killed before its cleanup ran: those whose pid no longer exists.
// Namespaces of running processes are left alone.
func removeStale(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for line := range strings.Lines(string(out)) {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		pid, ok := ownerPID(name)
		if !ok || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			t.Logf("removing namespace %s left by an earlier run", name)
			// Another process may be removing it at the same moment.
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
}

// ownerPID returns the pid in the name of a namespace this package (or
// lsd's older test) created; false for any other name.
func ownerPID(name string) (int, bool) {
	var pidText string
	if rest, ok := strings.CutPrefix(name, namePrefix); ok {
		// "<pid>-<counter>-<side>"
		parts := strings.Split(rest, "-")
		if len(parts) != 3 {
			return 0, false
		}
		pidText = parts[0]
	} else if rest, ok := strings.CutPrefix(name, legacyPrefix); ok {
		// "<a|b>-<pid>"
		side, p, found := strings.Cut(rest, "-")
		if !found || (side != "a" && side != "b") {
			return 0, false
		}
		pidText = p
	} else {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
