package server

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"shoal/metainfo"
)

// maxAllowListBytes bounds the allow-list file: 64 MiB holds over a million
// hashes.
const maxAllowListBytes = 64 << 20

// AllowList is a set of info hashes the tracker serves, read from a file
// with one 40-digit hex info hash per line (the format opentracker's
// whitelist uses). Blank lines and lines starting with '#' are ignored.
// Reload swaps in the file's new contents atomically; a file that fails to
// parse leaves the previous list in force.
type AllowList struct {
	path string
	set  atomic.Pointer[map[metainfo.InfoHash]struct{}]
}

// LoadAllowList reads the allow-list at path.
func LoadAllowList(path string) (*AllowList, error) {
	a := &AllowList{path: path}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload re-reads the file. On error the old list stays.
func (a *AllowList) Reload() error {
	set, err := readAllowList(a.path)
	if err != nil {
		return err
	}
	a.set.Store(&set)
	return nil
}

// Allowed reports whether ih is on the list. A nil AllowList allows all.
func (a *AllowList) Allowed(ih metainfo.InfoHash) bool {
	if a == nil {
		return true
	}
	_, ok := (*a.set.Load())[ih]
	return ok
}

// Len is the number of hashes on the list.
func (a *AllowList) Len() int { return len(*a.set.Load()) }

func readAllowList(path string) (map[metainfo.InfoHash]struct{}, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxAllowListBytes {
		return nil, fmt.Errorf("allow-list %s: %d bytes is over the %d-byte limit", path, fi.Size(), maxAllowListBytes)
	}
	set := make(map[metainfo.InfoHash]struct{})
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		var ih metainfo.InfoHash
		if len(text) != 40 {
			return nil, fmt.Errorf("allow-list %s:%d: %q is not a 40-digit hex info hash", path, line, text)
		}
		if _, err := hex.Decode(ih[:], []byte(text)); err != nil {
			return nil, fmt.Errorf("allow-list %s:%d: %q is not a 40-digit hex info hash", path, line, text)
		}
		set[ih] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("allow-list %s:%d: %w", path, line, err)
	}
	return set, nil
}
