package filemap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// testFile writes size bytes of a pattern to a new file and returns its
// path and contents.
func testFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// counter opens path and counts the opens.
func counter(t *testing.T, path string, opens *int) Opener {
	return func() (*os.File, func(), error) {
		*opens++
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
}

func TestViewReusesWindow(t *testing.T) {
	path, data := testFile(t, 300<<10)
	v := NewViewer(100 << 10) // rounded up to 128 KiB
	defer v.Close()
	opens := 0
	open := counter(t, path, &opens)
	cases := []struct {
		off, n    int64
		wantOpens int
	}{
		{0, 1000, 1},
		{1000, 50_000, 1},    // same window
		{100_000, 31_072, 1}, // ends exactly at 128 KiB
		{140_000, 10, 2},     // next window
		{250_000, 50_000, 3}, // crosses a window boundary: one window that far
		{260_000, 40_000, 3}, // inside the extended window
		{300<<10 - 1, 1, 4},  // last byte: window clipped to the file
		{0, 300 << 10, 5},    // the whole file
		{5, 0, 5},            // nothing to read
	}
	for _, c := range cases {
		err := Guard(func() error {
			got, err := v.View(1, c.off, c.n, open)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, data[c.off:c.off+c.n]) {
				t.Errorf("View(%d, %d): wrong bytes", c.off, c.n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("View(%d, %d): %v", c.off, c.n, err)
		}
		if opens != c.wantOpens {
			t.Errorf("after View(%d, %d): %d opens, want %d", c.off, c.n, opens, c.wantOpens)
		}
	}
	// Another key never shares the window.
	if _, err := v.View(2, 0, 10, open); err != nil || opens != 6 {
		t.Errorf("other key: %v, %d opens", err, opens)
	}
}

func TestViewErrors(t *testing.T) {
	path, _ := testFile(t, 1000)
	v := NewViewer(0)
	defer v.Close()
	opens := 0
	if _, err := v.View(0, 990, 11, counter(t, path, &opens)); !errors.Is(err, ErrShort) {
		t.Errorf("past the end: %v, want ErrShort", err)
	}
	if _, err := v.View(0, -1, 1, counter(t, path, &opens)); err == nil {
		t.Error("negative offset accepted")
	}
	missing := counter(t, filepath.Join(t.TempDir(), "none"), &opens)
	if _, err := v.View(0, 0, 1, missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestGuardTurnsTruncationIntoError(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("views are pread buffers here: nothing to fault")
	}
	path, _ := testFile(t, 1<<20)
	v := NewViewer(1 << 20)
	defer v.Close()
	opens := 0
	err := Guard(func() error {
		view, err := v.View(0, 0, 1<<20, counter(t, path, &opens))
		if err != nil {
			return err
		}
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		sum := 0
		for _, b := range view {
			sum += int(b)
		}
		t.Errorf("read %d from a truncated mapping without a fault", sum)
		return nil
	})
	if !errors.Is(err, ErrFault) {
		t.Fatalf("Guard: %v, want ErrFault", err)
	}
	// Other panics pass through Guard.
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	_ = Guard(func() error { panic("boom") })
}

func TestViewFallsBackToPread(t *testing.T) {
	mapRegion = func(*os.File, int64, int64) ([]byte, error) { return nil, errors.ErrUnsupported }
	t.Cleanup(func() { mapRegion = mapFile })
	path, data := testFile(t, 200_000)
	v := NewViewer(64 << 10)
	defer v.Close()
	opens := 0
	open := counter(t, path, &opens)
	for _, c := range []struct{ off, n int64 }{{0, 100}, {50, 50}, {100_000, 100_000}, {0, 200_000}} {
		got, err := v.View(3, c.off, c.n, open)
		if err != nil || !bytes.Equal(got, data[c.off:c.off+c.n]) {
			t.Fatalf("View(%d, %d): %v or wrong bytes", c.off, c.n, err)
		}
	}
	// A buffer holds exactly what was read: {50, 50} lies inside {0, 100}.
	if opens != 3 {
		t.Errorf("%d opens, want 3", opens)
	}
	if _, err := v.View(3, 199_999, 2, open); !errors.Is(err, ErrShort) {
		t.Errorf("past the end: %v, want ErrShort", err)
	}
}
