package metainfo

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Limits on untrusted file paths. 255 bytes is the longest file name that
// common file systems (ext4, XFS, NTFS in UTF-16 units, APFS) accept.
const (
	// MaxComponentLength is the longest path component accepted, in bytes.
	MaxComponentLength = 255
	// MaxPathComponents is the deepest path accepted, in components.
	MaxPathComponents = 256
	// MaxPathLength is the longest path accepted below the download
	// directory, in bytes, the torrent's name and the separators included:
	// Linux's PATH_MAX (4096) less the terminating NUL. Package storage
	// opens files one component at a time, so the download directory's
	// own path does not count against it there; the limit keeps each
	// torrent path usable by every other tool as well.
	MaxPathLength = 4095
)

// ValidatePath reports whether components, a file path taken from a torrent
// (relative to the torrent's directory), is safe to create below a download
// directory on any common operating system. It rejects an empty list, empty
// components, "." and "..", components that contain a path separator ('/' or
// '\\') or NUL, a Windows drive prefix such as "C:", components longer than
// MaxComponentLength bytes, paths deeper than MaxPathComponents and paths
// longer than MaxPathLength. The error names the whole path and the
// offending component.
//
// BEP 3 gives a path as a list of components precisely so that no
// component can contain a separator; BEP 47 requires symlink targets to
// obey the same rule ("must not contain .. elements").
//
// Where libtorrent and Transmission rewrite such a path (they drop ".."
// and "." components, replace separators with '_', truncate long names),
// we refuse the torrent: a rewritten path silently lands somewhere the
// torrent did not say, and two rewritten paths may collide.
//
// Names that are not valid UTF-8 are accepted and kept byte for byte:
// to a POSIX kernel only '/' and NUL are special, so such bytes cannot
// reach outside the download directory, and old torrents in legacy
// encodings are real content that libtorrent and Transmission accept as
// well (they rewrite the bytes, differently from each other: libtorrent
// to '_', Transmission from Latin-1 to UTF-8). Error messages quote such
// names with %q, so they print as escapes, never as raw bytes.
func ValidatePath(components []string) error {
	if len(components) == 0 {
		return errors.New("unsafe file path: empty path")
	}
	if len(components) > MaxPathComponents {
		return fmt.Errorf("unsafe file path %q: %d components, at most %d allowed",
			joinForError(components), len(components), MaxPathComponents)
	}
	for _, c := range components {
		if reason := unsafeComponent(c); reason != "" {
			return fmt.Errorf("unsafe file path %q: %s", joinForError(components), reason)
		}
	}
	return checkPathLength(components)
}

// checkPathLength rejects a path whose components, joined with '/', are
// longer than MaxPathLength bytes.
func checkPathLength(components []string) error {
	n := len(components) - 1 // separators
	for _, c := range components {
		n += len(c)
	}
	if n > MaxPathLength {
		return fmt.Errorf("unsafe file path %q: %d bytes long, at most %d allowed",
			joinForError(components), n, MaxPathLength)
	}
	return nil
}

// validateName checks the torrent's name, which becomes the single file
// (single-file form) or the top directory (multi-file form) below the
// download directory, so it must be exactly one safe component.
func validateName(name string) error {
	if reason := unsafeComponent(name); reason != "" {
		return fmt.Errorf("unsafe torrent name %q: %s", name, reason)
	}
	return nil
}

// unsafeComponent returns why c is not a safe path component, or "".
func unsafeComponent(c string) string {
	switch {
	case c == "":
		return "empty component not allowed"
	case c == "." || c == "..":
		return fmt.Sprintf("component %q not allowed", c)
	case len(c) > MaxComponentLength:
		return fmt.Sprintf("component of %d bytes, at most %d allowed", len(c), MaxComponentLength)
	case strings.ContainsRune(c, '/'):
		// A leading '/' would also make the path absolute.
		return fmt.Sprintf("component %q contains '/'", c)
	case strings.ContainsRune(c, '\\'):
		return fmt.Sprintf("component %q contains '\\'", c)
	case strings.ContainsRune(c, 0):
		return fmt.Sprintf("component %q contains NUL", c)
	case isDriveLetter(c):
		// "C:" or "C:x" would name a drive (or a drive-relative path) on
		// Windows, escaping the download directory there.
		return fmt.Sprintf("component %q starts with a Windows drive letter", c)
	}
	return ""
}

func isDriveLetter(c string) bool {
	if len(c) < 2 || c[1] != ':' {
		return false
	}
	l := c[0] | 0x20 // lower case for ASCII letters
	return l >= 'a' && l <= 'z'
}

// maxErrorPath is the longest path an error message shows whole; a longer
// one is shortened in the middle, so that a hostile torrent cannot fill a
// terminal with one message while the error still names the path.
const maxErrorPath = 200

// joinForError shows a path the way a user would type it, shortened in the
// middle (with "[…N bytes…]") when it is longer than maxErrorPath bytes.
func joinForError(components []string) string {
	p := strings.Join(components, "/")
	if len(p) <= maxErrorPath {
		return p
	}
	const keep = maxErrorPath / 2
	return fmt.Sprintf("%s[…%d bytes…]%s", p[:keep], len(p)-2*keep, p[len(p)-keep:])
}

// FilePath returns where file i of the torrent goes below the download
// directory root: root/name for a single-file torrent, root/name/path...
// for a multi-file one. It re-checks the name and the path and verifies
// that the result stays inside root, so it is safe even for an Info that
// did not come from Parse. A padding file without a path (BEP 47 allows
// one) has no place on disk and gives an error.
func (info *Info) FilePath(root string, i int) (string, error) {
	if i < 0 || i >= len(info.Files) {
		return "", fmt.Errorf("metainfo: file index %d out of range [0, %d)", i, len(info.Files))
	}
	if err := validateName(info.Name); err != nil {
		return "", fmt.Errorf("metainfo: %w", err)
	}
	f := info.Files[i]
	rel := []string{info.Name}
	if !info.SingleFile {
		if err := ValidatePath(f.Path); err != nil {
			return "", fmt.Errorf("metainfo: file %d: %w", i, err)
		}
		rel = append(rel, f.Path...)
	}
	if err := checkPathLength(rel); err != nil {
		return "", fmt.Errorf("metainfo: file %d: %w", i, err)
	}
	relPath := filepath.Join(rel...)
	if !filepath.IsLocal(relPath) {
		return "", fmt.Errorf("metainfo: file %d: path %q is not local", i, joinForError(rel))
	}
	full := filepath.Join(root, relPath)
	back, err := filepath.Rel(root, full)
	if err != nil || !filepath.IsLocal(back) {
		return "", fmt.Errorf("metainfo: file %d: path %q escapes %q", i, joinForError(rel), root)
	}
	return full, nil
}

// checkFileTree rejects two files with the same path, and a file whose
// path is also a directory of another file ("a" and "a/b"): one of them
// could not be created, and a client that tried might write one file's
// data through the other. Paths compare case-sensitively, byte for byte.
// Padding files are skipped: they are never written, and libtorrent names
// every one of a size ".pad/N", so duplicates among them are normal.
func checkFileTree(files []File) error {
	const (
		isFile = 1
		isDir  = 2
	)
	kinds := make(map[string]int, len(files))
	var key strings.Builder
	for i, f := range files {
		if f.IsPadding() {
			continue
		}
		key.Reset()
		for j, c := range f.Path {
			if j > 0 {
				key.WriteByte('/')
			}
			key.WriteString(c)
			k := key.String()
			want := isDir
			if j == len(f.Path)-1 {
				want = isFile
			}
			switch have := kinds[k]; {
			case have == 0:
				kinds[k] = want
			case have == isFile && want == isFile:
				return fmt.Errorf("file %d: duplicate file path %q", i, k)
			case have != want:
				return fmt.Errorf("file %d: path %q is both a file and a directory", i, k)
			}
		}
	}
	return nil
}
