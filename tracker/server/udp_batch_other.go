//go:build !(linux && (amd64 || arm64))

package server

import (
	"context"
	"net"
)

// serveUDPReader reads one packet per system call where recvmmsg is not
// available.
func (s *Server) serveUDPReader(ctx context.Context, conn *net.UDPConn) error {
	return s.udpReader(ctx, conn)
}
