//go:build !amd64 || purego

package sha1x2

// haveTwoLanes is false: without the amd64 block function every Digest2
// hashes its lanes with crypto/sha1.
const haveTwoLanes = false

// blocks2 is never called when haveTwoLanes is false.
func blocks2(sa, sb *[5]uint32, pa, pb *byte, n int) {
	panic("sha1x2: blocks2 without the SHA extensions")
}
