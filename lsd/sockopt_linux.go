package lsd

import (
	"net"
	"syscall"
)

// setMulticastOptions keeps announces on the local link (TTL/hop limit 1)
// and turns multicast loopback on, so other clients on this host (another
// Shoal, libtorrent) hear us too; our own looped-back announces are dropped
// by their cookie, which BEP 14 defines for exactly this.
func setMulticastOptions(c *net.UDPConn, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var optErr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			optErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS, 1)
			if optErr == nil {
				optErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_LOOP, 1)
			}
			return
		}
		optErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 1)
		if optErr == nil {
			optErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_LOOP, 1)
		}
	})
	if err != nil {
		return err
	}
	return optErr
}
