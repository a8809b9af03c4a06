package lsd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"shoal/internal/netnstest"
	"shoal/metainfo"
)

// The multicast test runs two copies of this test binary in two network
// namespaces joined by a veth pair, so announces cross a real link while no
// packet can reach the host's own interfaces. The parent drives the children
// over stdin/stdout lines starting with "LSDTEST ".

const (
	envSide   = "SHOAL_LSD_NETNS_SIDE" // set in a child: its name ("a" or "b")
	envGroup  = "SHOAL_LSD_GROUP"
	envIface  = "SHOAL_LSD_IFACE"
	envPort   = "SHOAL_LSD_PORT"
	envExpect = "SHOAL_LSD_EXPECT" // comma-separated peers the child must learn
	envOwn    = "SHOAL_LSD_OWN"    // info hash only this side tracks
)

var sharedHash = metainfo.InfoHash{0x5e, 0xed, 1}

// child is one helper process and the protocol lines it printed.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
}

func startChild(t *testing.T, exe, ns string, env ...string) *child {
	t.Helper()
	c := &child{name: ns, lines: make(chan string, 64)}
	c.cmd = netnstest.Command(ns, exe, "-test.run=^TestNetnsHelper$", "-test.v", "-test.timeout=60s")
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the binary in place, so this pid is the child.
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		var rest strings.Builder
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "LSDTEST "); ok {
				c.lines <- line
			} else {
				rest.WriteString(sc.Text() + "\n")
			}
		}
		c.lines <- "exit output:\n" + rest.String()
	}()
	return c
}

// await reads protocol lines until one equals want, collecting "found" lines.
func (c *child) await(t *testing.T, want string, deadline time.Time, found *[]string) {
	t.Helper()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok || strings.HasPrefix(line, "exit output:") {
				t.Fatalf("%s ended before %q: %s\nstderr: %s", c.name, want, line, c.stderr.String())
			}
			if f, ok := strings.CutPrefix(line, "found "); ok {
				*found = append(*found, f)
			}
			if line == want {
				return
			}
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%s: no %q in time\nstderr: %s", c.name, want, c.stderr.String())
		}
	}
}

func TestServiceAcrossNamespaces(t *testing.T) {
	if os.Getenv(envSide) != "" {
		t.Skip("inside a helper process")
	}
	netnstest.RequireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, b := netnstest.Pair(t)

	tests := []struct {
		name           string
		group          string
		ifaceA, ifaceB string // "" on one side checks the default route is followed
		addrA, addrB   string
	}{
		{"IPv4", Group4, "", b.Veth, a.V4, b.V4},
		{"IPv6", Group6, a.Veth, b.Veth, "[" + a.V6 + "]", "[" + b.V6 + "]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Side a runs two Services (ports 7001, 7002) to check that
			// loopback delivery finds a neighbour on the same host while a
			// Service never reports itself; side b runs one (7003).
			peerA1, peerA2, peerB := tc.addrA+":7001", tc.addrA+":7002", tc.addrB+":7003"
			ca := startChild(t, exe, a.NS, envSide+"=a", envGroup+"="+tc.group, envIface+"="+tc.ifaceA,
				envPort+"=7001", envExpect+"="+peerA2+","+peerB, envOwn+"=aa")
			cb := startChild(t, exe, b.NS, envSide+"=b", envGroup+"="+tc.group, envIface+"="+tc.ifaceB,
				envPort+"=7003", envExpect+"="+peerA1+","+peerA2, envOwn+"=bb")
			deadline := time.Now().Add(20 * time.Second)
			var foundA, foundB []string
			ca.await(t, "ready", deadline, &foundA)
			cb.await(t, "ready", deadline, &foundB)
			io.WriteString(ca.stdin, "go\n")
			io.WriteString(cb.stdin, "go\n")
			ca.await(t, "done", deadline, &foundA)
			cb.await(t, "done", deadline, &foundB)
			io.WriteString(ca.stdin, "exit\n")
			io.WriteString(cb.stdin, "exit\n")
			for _, c := range []*child{ca, cb} {
				if err := c.cmd.Wait(); err != nil {
					t.Errorf("%s: %v\nstderr: %s", c.name, err, c.stderr.String())
				}
			}
			slices.Sort(foundA)
			slices.Sort(foundB)
			if want := []string{peerA2, peerB}; !slices.Equal(foundA, want) {
				t.Errorf("side a learned %v, want %v", foundA, want)
			}
			if want := []string{peerA1, peerA2}; !slices.Equal(foundB, want) {
				t.Errorf("side b learned %v, want %v", foundB, want)
			}
		})
	}
}

// TestNetnsHelper is the child half of TestServiceAcrossNamespaces.
func TestNetnsHelper(t *testing.T) {
	side := os.Getenv(envSide)
	if side == "" {
		t.Skip("helper process for TestServiceAcrossNamespaces; runs only inside the namespaces it creates")
	}
	minAnnounceGap, coalesceDelay = 100*time.Millisecond, 10*time.Millisecond
	port, err := strconv.Atoi(os.Getenv(envPort))
	if err != nil {
		t.Fatal(err)
	}
	expect := strings.Split(os.Getenv(envExpect), ",")
	own := metainfo.InfoHash{0x0e, 0xed, byte(side[0])}

	cfg := Config{Port: port, Interface: os.Getenv(envIface), Group: os.Getenv(envGroup), Interval: 200 * time.Millisecond}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if side == "a" { // a neighbour on the same host
		cfg.Port++
		s2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		s2.Track(sharedHash, nil)
	}

	stdin := bufio.NewScanner(os.Stdin)
	fmt.Println("LSDTEST ready")
	if !stdin.Scan() || stdin.Text() != "go" {
		t.Fatalf("expected go from the parent, got %q", stdin.Text())
	}
	foundC := make(chan netip.AddrPort, 16)
	s.Track(sharedHash, func(peers []netip.AddrPort) {
		for _, p := range peers {
			select {
			case foundC <- p:
			default: // must not block the Service; repeats are dropped
			}
		}
	})
	// Only this side tracks own; the other side announces a hash we do not
	// track. Neither may produce a report.
	s.Track(own, func(peers []netip.AddrPort) { t.Errorf("report %v for a hash no peer announces", peers) })

	var seen []string
	timeout := time.After(15 * time.Second)
	for len(seen) < len(expect) {
		select {
		case p := <-foundC:
			if !slices.Contains(expect, p.String()) {
				t.Fatalf("learned unexpected peer %v (want %v)", p, expect)
			}
			if !slices.Contains(seen, p.String()) {
				seen = append(seen, p.String())
				fmt.Println("LSDTEST found", p)
			}
		case <-timeout:
			t.Fatalf("learned only %v of %v", seen, expect)
		}
	}
	fmt.Println("LSDTEST done")
	// Keep announcing until the parent has heard from both sides.
	for stdin.Scan() && stdin.Text() != "exit" {
	}
}
