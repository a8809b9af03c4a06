package sha1x2

import (
	"bytes"
	"crypto/sha1"
	"math/rand/v2"
	"testing"
)

// randomBytes returns n bytes from rng.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// checkPair fails t unless Sum2(a, b) matches crypto/sha1 on both lanes.
func checkPair(t *testing.T, a, b []byte) {
	t.Helper()
	da, db := Sum2(a, b)
	if want := sha1.Sum(a); da != want {
		t.Errorf("lane a, %d bytes: got %x, want %x", len(a), da, want)
	}
	if want := sha1.Sum(b); db != want {
		t.Errorf("lane b, %d bytes: got %x, want %x", len(b), db, want)
	}
}

func TestSum2MatchesSHA1(t *testing.T) {
	t.Logf("two lanes in use: %v", Accelerated())
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 16 << 10, 1 << 20}
	for range 40 {
		lengths = append(lengths, rng.IntN(5000))
	}
	for _, n := range lengths {
		a, b := randomBytes(rng, n), randomBytes(rng, n)
		checkPair(t, a, b)
		// The same message in both lanes, and lanes sharing memory.
		checkPair(t, a, a)
	}
}

func TestSum2UnequalLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range [][2]int{{0, 1}, {64, 65}, {1000, 10}, {56, 0}} {
		checkPair(t, randomBytes(rng, n[0]), randomBytes(rng, n[1]))
	}
}

// TestSum2KnownVectors checks the FIPS 180-4 example digests, so that a
// fault shared with crypto/sha1 cannot hide.
func TestSum2KnownVectors(t *testing.T) {
	abc := []byte("abc")
	two := []byte("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
	da, db := Sum2(abc, []byte("xyz"))
	if got := hexOf(da); got != "a9993e364706816aba3e25717850c26c9cd0d89d" {
		t.Errorf(`SHA-1("abc") = %s`, got)
	}
	if got := hexOf(db); got != "66b27417d37e024c46526c2f6d358a754fc552f3" {
		t.Errorf(`SHA-1("xyz") = %s`, got)
	}
	da, _ = Sum2(two, bytes.Repeat([]byte{'x'}, len(two)))
	if got := hexOf(da); got != "84983e441c3bd26ebaae4aa1f95129e5e54670f1" {
		t.Errorf("SHA-1 of the 448-bit example = %s", got)
	}
}

func hexOf(d [Size]byte) string {
	const digits = "0123456789abcdef"
	var s []byte
	for _, c := range d {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// TestDigest2Chunked writes the same messages in chunks of many sizes,
// crossing block boundaries in every way, and checks Sum between writes.
func TestDigest2Chunked(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 3000
	a, b := randomBytes(rng, n), randomBytes(rng, n)
	for _, chunk := range []int{1, 7, 63, 64, 65, 100, 128, 1000} {
		var d Digest2
		d.Reset()
		for off := 0; off < n; off += chunk {
			end := min(off+chunk, n)
			d.Write(a[off:end], b[off:end])
			da, db := d.Sum()
			if da != sha1.Sum(a[:end]) || db != sha1.Sum(b[:end]) {
				t.Fatalf("chunk %d: wrong digest after %d bytes", chunk, end)
			}
		}
		// Reset starts over.
		d.Reset()
		d.Write(b[:10], a[:10])
		if da, db := d.Sum(); da != sha1.Sum(b[:10]) || db != sha1.Sum(a[:10]) {
			t.Fatalf("chunk %d: wrong digest after Reset", chunk)
		}
	}
}

func TestDigest2WriteUnequalPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Write with slices of different lengths did not panic")
		}
	}()
	var d Digest2
	d.Reset()
	d.Write(make([]byte, 3), make([]byte, 4))
}

func TestSum2DoesNotAllocate(t *testing.T) {
	a, b := make([]byte, 4096), make([]byte, 4096)
	if n := testing.AllocsPerRun(10, func() { Sum2(a, b) }); n != 0 && Accelerated() {
		t.Errorf("Sum2 made %v allocations", n)
	}
}

func FuzzSum2(f *testing.F) {
	f.Add([]byte("abc"), []byte("xyz"))
	f.Add(make([]byte, 64), make([]byte, 64))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		checkPair(t, a, b)
		// Also with both lanes cut to the same length.
		n := min(len(a), len(b))
		checkPair(t, a[:n], b[:n])
	})
}

// BenchmarkSum2 hashes two 1 MiB messages in two lanes; BenchmarkSHA1Twice
// hashes them one after the other with crypto/sha1. Both report the
// bytes of both messages.
func BenchmarkSum2(b *testing.B) {
	x, y := make([]byte, 1<<20), make([]byte, 1<<20)
	b.SetBytes(2 << 20)
	for b.Loop() {
		Sum2(x, y)
	}
}

func BenchmarkSHA1Twice(b *testing.B) {
	x, y := make([]byte, 1<<20), make([]byte, 1<<20)
	b.SetBytes(2 << 20)
	for b.Loop() {
		sha1.Sum(x)
		sha1.Sum(y)
	}
}

func TestDigest2DoesNotAllocate(t *testing.T) {
	if !Accelerated() {
		t.Skip("crypto/sha1 fallback allocates its digests")
	}
	a, b := make([]byte, 4096), make([]byte, 4096)
	var d Digest2
	n := testing.AllocsPerRun(10, func() {
		d.Reset()
		d.Write(a, b)
		d.Sum()
	})
	if n != 0 {
		t.Errorf("Reset, Write and Sum made %v allocations", n)
	}
}
