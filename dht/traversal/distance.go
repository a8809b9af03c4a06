package traversal

// Distance returns the Kademlia XOR metric between a and b (BEP 5: "distance
// metric is XOR and the result is interpreted as an unsigned integer").
func Distance(a, b [20]byte) [20]byte {
	var d [20]byte
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Closer reports whether a is strictly closer to target than b under the XOR
// metric.
func Closer(target, a, b [20]byte) bool {
	return compareDistance(target, a, b) < 0
}

// compareDistance returns -1, 0 or +1 as a is closer to, as close to, or
// farther from target than b. It compares byte by byte so no [20]byte
// distance has to be built.
func compareDistance(target, a, b [20]byte) int {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	return 0
}
