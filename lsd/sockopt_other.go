//go:build !linux

package lsd

import "net"

// setMulticastOptions keeps the system defaults elsewhere: a multicast TTL
// of 1 and, as net.ListenMulticastUDP sets it, no loopback (so other clients
// on the same host do not hear us there).
func setMulticastOptions(*net.UDPConn, bool) error { return nil }
