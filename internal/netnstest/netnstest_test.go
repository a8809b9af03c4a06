package netnstest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestOwnerPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"shoal-netns-1234-1-a", 1234, true},
		{"shoal-netns-77-12-b", 77, true},
		{"shoal-lsd-a-4321", 4321, true},
		{"shoal-lsd-b-9", 9, true},
		{"shoal-lsd-c-9", 0, false},
		{"shoal-netns-1234-1", 0, false},
		{"shoal-netns-x-1-a", 0, false},
		{"shoal-netns--1-a", 0, false},
		{"shoal-netns-0-1-a", 0, false},
		{"someone-else-1234", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		pid, ok := ownerPID(tc.name)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("ownerPID(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
}

// inside runs a command in a namespace and returns its output.
func inside(t *testing.T, ns string, name string, args ...string) string {
	t.Helper()
	out, err := Command(ns, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in %s: %v\n%s", name, ns, err, out)
	}
	return string(out)
}

// TestPair makes two pairs in one process and checks that their names
// differ and that each side is set up as documented, seen from inside.
func TestPair(t *testing.T) {
	a1, b1 := Pair(t)
	a2, b2 := Pair(t)
	names := map[string]bool{}
	for _, s := range []Side{a1, b1, a2, b2} {
		if names[s.NS] || names[s.Veth] {
			t.Errorf("name of %+v used twice", s)
		}
		names[s.NS], names[s.Veth] = true, true
		if len(s.Veth) > 15 {
			t.Errorf("veth name %q longer than 15 characters", s.Veth)
		}
		if pid, ok := ownerPID(s.NS); !ok || pid <= 0 {
			t.Errorf("namespace %q not recognised as ours", s.NS)
		}
	}
	for _, s := range []Side{a1, b1} {
		addrs := inside(t, s.NS, "ip", "-o", "addr", "show")
		for _, want := range []string{"lo    inet 127.0.0.1/8", s.Veth + "    inet " + s.V4 + "/24", s.V6 + "/64"} {
			if !strings.Contains(addrs, want) {
				t.Errorf("%s: no %q in\n%s", s.NS, want, addrs)
			}
		}
		if lo := inside(t, s.NS, "ip", "link", "show", "lo"); !strings.Contains(lo, ",UP") {
			t.Errorf("%s: lo is not up:\n%s", s.NS, lo)
		}
		if route := inside(t, s.NS, "ip", "route", "get", "239.192.152.143"); !strings.Contains(route, "dev "+s.Veth) {
			t.Errorf("%s: multicast not routed over %s:\n%s", s.NS, s.Veth, route)
		}
		// The host's interfaces are not visible inside.
		if links := inside(t, s.NS, "ip", "-o", "link", "show"); strings.Count(links, "\n") != 2 {
			t.Errorf("%s: want exactly lo and %s, got\n%s", s.NS, s.Veth, links)
		}
	}
	if out, err := exec.Command("ip", "link", "show", a1.Veth).CombinedOutput(); err == nil {
		t.Errorf("veth %s exists in the host's namespace:\n%s", a1.Veth, out)
	}
}
