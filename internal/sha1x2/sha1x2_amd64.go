//go:build amd64 && !purego

package sha1x2

// haveTwoLanes is true when the CPU has the SHA extensions and the SSSE3
// (PSHUFB) and SSE4.1 (PINSRD, PEXTRD) instructions blocks2 uses.
var haveTwoLanes = detect()

func detect() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	_, ebx7, _, _ := cpuid(7, 0)
	const (
		ssse3  = 1 << 9  // CPUID.1:ECX
		sse41  = 1 << 19 // CPUID.1:ECX
		shaExt = 1 << 29 // CPUID.(EAX=7,ECX=0):EBX
	)
	return ecx1&ssse3 != 0 && ecx1&sse41 != 0 && ebx7&shaExt != 0
}

// cpuid executes the CPUID instruction for leaf eaxArg, subleaf ecxArg.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// blocks2 runs the SHA-1 compression function (FIPS 180-4 section 6.1.2)
// over n 64-byte blocks at pa into the chaining values sa, and over n
// blocks at pb into sb, interleaving the two. n must be at least 1.
//
//go:noescape
func blocks2(sa, sb *[5]uint32, pa, pb *byte, n int)
