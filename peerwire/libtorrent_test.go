package peerwire

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"shoal/bitfield"
	"shoal/metainfo"
)

// pythonWithLibtorrent is Debian's Python, the only one that can import the
// python3-libtorrent module (see /work/shared/interop-notes.md).
const pythonWithLibtorrent = "/usr/bin/python3"

// requireLibtorrent skips the test when libtorrent is not importable, or
// fails it under CI=true, where a missing client is a failure.
func requireLibtorrent(t *testing.T) {
	t.Helper()
	err := exec.Command(pythonWithLibtorrent, "-c", "import libtorrent").Run()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("libtorrent Python module not usable via %s (%v); install python3-libtorrent", pythonWithLibtorrent, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestLibtorrentSeeder connects to a real libtorrent seeder and reads its
// handshake, extended handshake and piece availability with our decoder,
// then downloads one block and checks its bytes.
func TestLibtorrentSeeder(t *testing.T) {
	requireLibtorrent(t) // ~0.2 s: not skipped under -short, so CI always runs it
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, pythonWithLibtorrent, "testdata/lt_seed.py", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the script exits when stdin closes
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Logf("seeder exited: %v; stderr: %s", err, stderr.String())
		}
	}()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("seeder did not start: %v; stderr: %s", err, stderr.String())
	}
	fields := strings.Fields(line)
	if len(fields) != 5 || fields[0] != "READY" {
		t.Fatalf("unexpected seeder line %q", line)
	}
	port, numPieces, metadataSize := atoi(t, fields[1]), atoi(t, fields[3]), atoi(t, fields[4])
	ih, err := metainfo.ParseInfoHash(fields[2])
	if err != nil {
		t.Fatal(err)
	}

	ours := Handshake{InfoHash: ih, PeerID: NewPeerID("-SH0001-")}
	ours.Reserved.SetExtended(true)
	ours.Reserved.SetFast(true)
	// libtorrent now and then closes a connection that arrives just after
	// the torrent turned to seeding (seen once in CI: EOF before its
	// handshake); a real client would simply dial again, and so do we.
	var conn net.Conn
	var theirs Handshake
	for attempt := 1; ; attempt++ {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.SetDeadline(time.Now().Add(40 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := WriteHandshake(conn, ours); err != nil {
			t.Fatal(err)
		}
		theirs, err = ReadHandshake(conn)
		if err == nil {
			break
		}
		conn.Close()
		if attempt == 5 {
			t.Fatalf("reading libtorrent's handshake: %v", err)
		}
		t.Logf("attempt %d: libtorrent closed the connection (%v); dialing again", attempt, err)
		time.Sleep(200 * time.Millisecond)
	}
	defer conn.Close()
	if theirs.InfoHash != ih || !theirs.Reserved.Extended() || !theirs.Reserved.Fast() {
		t.Fatalf("libtorrent handshake: info hash %s, reserved %x", theirs.InfoHash, theirs.Reserved)
	}
	if name := ClientName(theirs.PeerID); !strings.HasPrefix(name, "libtorrent 2.") {
		t.Errorf("ClientName(%s) = %q, want libtorrent 2.x", theirs.PeerID, name)
	}

	// Our extended handshake, so libtorrent treats us as a normal peer.
	eh := ExtendedHandshake{M: map[string]int{"ut_metadata": 1}, V: "Shoal test", Reqq: 250}
	payload, err := eh.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := AppendMessage(nil, Message{ID: Extended, ExtendedID: 0, Payload: payload})
	out = AppendMessage(out, Message{ID: HaveNone})
	out = AppendMessage(out, Message{ID: Interested})
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}

	r := NewReader(conn, ReaderOptions{NumPieces: numPieces})
	var (
		gotExt, gotHave, unchoked bool
		allowedFast               []uint32
	)
	for !(gotExt && gotHave && unchoked) {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading libtorrent's messages (ext %v, have %v, unchoked %v): %v", gotExt, gotHave, unchoked, err)
		}
		switch {
		case m.KeepAlive:
		case m.ID == Extended && m.ExtendedID == 0:
			h, err := ParseExtendedHandshake(m.Payload)
			if err != nil {
				t.Fatalf("libtorrent's extended handshake %q: %v", m.Payload, err)
			}
			if _, ok := h.ID("ut_metadata"); !ok || !strings.Contains(h.V, "libtorrent") ||
				h.MetadataSize != metadataSize || h.Reqq <= 0 {
				t.Errorf("extended handshake %q decoded as %+v", m.Payload, h)
			}
			if h.YourIP.IsValid() && h.YourIP != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("yourip = %s, want 127.0.0.1", h.YourIP)
			}
			gotExt = true
		case m.ID == HaveAll:
			gotHave = true
		case m.ID == Bitfield:
			bf, err := bitfield.FromBytes(m.Payload, numPieces)
			if err != nil || !bf.Full() {
				t.Fatalf("seeder's bitfield %x: %v", m.Payload, err)
			}
			gotHave = true
		case m.ID == AllowedFast:
			allowedFast = append(allowedFast, m.Index)
		case m.ID == Unchoke:
			unchoked = true
		}
	}
	t.Logf("libtorrent sent allowed fast %v", allowedFast)

	// Download the last (short) block of the last piece and check its bytes.
	const size = 100*1024 + 123 // as in testdata/lt_seed.py
	last := uint32(numPieces - 1)
	length := uint32(size - int(last)*BlockSize)
	if _, err := conn.Write(AppendMessage(nil, Message{ID: Request, Index: last, Begin: 0, Length: length})); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the piece: %v", err)
		}
		if m.ID != Piece || m.KeepAlive {
			continue
		}
		if m.Index != last || m.Begin != 0 || m.Length != length {
			t.Fatalf("got %v, want piece %d:0+%d", m, last, length)
		}
		for i, b := range m.Payload {
			if want := byte((int(last)*BlockSize + i) % 251); b != want {
				t.Fatalf("byte %d of the block is %#x, want %#x", i, b, want)
			}
		}
		return
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad number %q from the seeder: %v", s, err)
	}
	return n
}
