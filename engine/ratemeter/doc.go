// Package ratemeter measures transfer rates: a sliding-window byte-rate
// Meter for the goroutine that owns a torrent's state, and an atomic Counter
// for the connection goroutines that move the bytes.
//
// Intended use: a peer connection's reader and writer goroutines count
// payload bytes into a Counter (one atomic add per block, safe from any
// goroutine). The torrent loop owns one Meter per direction per peer and,
// once a second, calls Meter.Sample with the Counter's running total; the
// loop then reads Meter.Rate when it rechokes or sizes request pipelines.
// Nothing is locked on the hot path and the loop never waits for a
// connection goroutine.
//
// The default window, 20 s in 1 s buckets, matches the "about 20 seconds"
// averages the BEP 3 choking algorithm was designed around: long enough
// that one burst doesn't swing a choking decision, short enough that a peer
// that stops sending loses its slot within one or two rechokes.
package ratemeter
