package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// timedLine is a line of a child's output and when the benchmark read it.
type timedLine struct {
	at   time.Time
	text string
}

// proc is a child process whose stdout and stderr lines are timestamped
// as they arrive.
type proc struct {
	cmd   *exec.Cmd
	start time.Time
	end   time.Time
	lines chan timedLine // stdout and stderr, in arrival order
	tail  *lineWriter    // keeps the last lines for error messages
	done  chan struct{}  // closed once the process has been waited for
	err   error          // from Wait, valid after done
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, lines: make(chan timedLine, 4096), done: make(chan struct{})}
	p.tail = &lineWriter{lines: p.lines}
	cmd.Stdout, cmd.Stderr = p.tail, p.tail
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		p.end = time.Now()
		close(p.done)
	}()
	return p, nil
}

// waitLine returns the first line that match accepts; the process exiting
// or the timeout passing first is an error that quotes its last output.
func (p *proc) waitLine(timeout time.Duration, match func(string) bool) (timedLine, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l := <-p.lines:
			if match(l.text) {
				return l, nil
			}
		case <-p.done:
			// Lines written just before the exit may still be queued.
			for {
				select {
				case l := <-p.lines:
					if match(l.text) {
						return l, nil
					}
				default:
					return timedLine{}, fmt.Errorf("%s exited (%v); its last output:\n%s", p.name(), p.err, p.tail.last())
				}
			}
		case <-deadline.C:
			return timedLine{}, fmt.Errorf("%s: nothing after %v; its last output:\n%s", p.name(), timeout, p.tail.last())
		}
	}
}

// wait waits for the process to exit by itself; a non-zero exit is an error.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return fmt.Errorf("%s still running %v after completing", p.name(), timeout)
	}
	if p.err != nil {
		return fmt.Errorf("%s: %v; its last output:\n%s", p.name(), p.err, p.tail.last())
	}
	return nil
}

// stop ends a seeder with SIGTERM, as Ctrl-C would, and SIGKILL if that
// takes more than 10 s. Being killed by the SIGTERM is a clean end.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
		return fmt.Errorf("%s did not stop within 10 s of SIGTERM", p.name())
	}
	var exitErr *exec.ExitError
	if p.err != nil && !(errors.As(p.err, &exitErr) && exitErr.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
		return fmt.Errorf("%s: %v; its last output:\n%s", p.name(), p.err, p.tail.last())
	}
	return nil
}

// kill ends the process if it still runs, and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// usage returns the CPU seconds (user + system) and peak RSS in bytes of an
// exited process.
func (p *proc) usage() (cpu float64, peakRSS int64) {
	st := p.cmd.ProcessState
	if st == nil {
		return 0, 0
	}
	cpu = (st.UserTime() + st.SystemTime()).Seconds()
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		peakRSS = ru.Maxrss << 10 // Linux reports kilobytes
	}
	return cpu, peakRSS
}

func (p *proc) name() string {
	args := p.cmd.Args
	if len(args) > 3 {
		args = args[:3]
	}
	return filepath.Base(args[0]) + " " + strings.Join(args[1:], " ")
}

// lineWriter splits a child's output into timestamped lines and remembers
// the last few.
type lineWriter struct {
	lines   chan<- timedLine
	mu      sync.Mutex
	partial []byte
	recent  []string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		// A terminal-style status line redraws with \r; keep its last state.
		text := string(w.partial[:i])
		if j := strings.LastIndexByte(text, '\r'); j >= 0 {
			text = text[j+1:]
		}
		w.partial = w.partial[i+1:]
		w.recent = append(w.recent, text)
		if len(w.recent) > 20 {
			w.recent = w.recent[1:]
		}
		select {
		case w.lines <- timedLine{at: now, text: text}:
		default: // nobody reads this process's output any more
		}
	}
	return len(b), nil
}

func (w *lineWriter) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.recent, "\n")
}

// procCPU reads a running process's user + system CPU seconds from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func procCPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format %q", pid, data)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format %q", pid, data)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format %q", pid, data)
	}
	return float64(utime+stime) / 100, nil
}

// freePort asks the kernel for a free TCP port on ip.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("listening on %s (loopback addresses other than 127.0.0.1 must work): %w", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileSHA1(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// loadAbove reports whether the 1-minute load average exceeds limit.
func loadAbove(load string, limit float64) bool {
	first, _, _ := strings.Cut(load, " ")
	v, err := strconv.ParseFloat(first, 64)
	return err == nil && v > limit
}

func nproc() int { return runtime.NumCPU() }

func goVersion() string { return runtime.Version() }

// cpuModel names the processor from /proc/cpuinfo.
func cpuModel() string {
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(cpuinfo)) {
		if key, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return "unknown"
}

// watchConnection polls the kernel's socket tables until a TCP connection
// to or from addr is established, and sends the time it first saw one. It
// polls every millisecond, and only until that moment, so it costs little
// and never overlaps the transfer itself. Closing stop ends it early.
func watchConnection(addr netip.AddrPort, stop <-chan struct{}) <-chan time.Time {
	found := make(chan time.Time, 1)
	// /proc/net/tcp writes an IPv4 address as the hex of its 32 bits in host
	// (little-endian here) order and the port as 4 hex digits; tcp6 writes
	// an IPv4-mapped address with the same last 8 digits.
	a := addr.Addr().As4()
	key := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], addr.Port())
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
				if data, err := os.ReadFile(table); err == nil && established(data, key) {
					found <- time.Now()
					return
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return found
}

// established reports whether a /proc/net/tcp table holds an established
// connection (state 01) with key as one of its ends.
func established(table []byte, key string) bool {
	for line := range strings.Lines(string(table)) {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "01" {
			continue
		}
		if strings.HasSuffix(f[1], key) || strings.HasSuffix(f[2], key) {
			return true
		}
	}
	return false
}
