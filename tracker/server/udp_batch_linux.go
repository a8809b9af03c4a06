//go:build linux && (amd64 || arm64)

package server

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// udpBatch is how many datagrams one recvmmsg or sendmmsg call moves. On a
// busy tracker most of a UDP server's time is system calls, one recvfrom
// and one sendto per announce; batching cuts that to a pair per batch.
const udpBatch = 32

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2).
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

// udpBatcher holds one reader goroutine's batch buffers.
type udpBatcher struct {
	rc      syscall.RawConn
	in      [udpBatch]mmsghdr
	inIov   [udpBatch]syscall.Iovec
	inName  [udpBatch]syscall.RawSockaddrInet6 // large enough for IPv4 too
	inBuf   [udpBatch][udpMaxPacket]byte
	out     [udpBatch]mmsghdr
	outIov  [udpBatch]syscall.Iovec
	outName [udpBatch]syscall.RawSockaddrInet6
	outBuf  [udpBatch][udpMaxPacket]byte
}

// serveUDPReader reads with recvmmsg and answers with sendmmsg. A socket
// that does not offer a raw connection falls back to one packet per call.
func (s *Server) serveUDPReader(ctx context.Context, conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return s.udpReader(ctx, conn)
	}
	b := &udpBatcher{rc: rc}
	h := s.newUDPHandler()
	for {
		n, err := b.recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.counts.errors.Add(1)
			continue
		}
		replies := 0
		for i := range n {
			from, ok := sockaddrToAddrPort(&b.inName[i], b.in[i].hdr.Namelen)
			if !ok {
				continue
			}
			out := h.handle(ctx, b.inBuf[i][:b.in[i].len], from)
			if out == nil {
				continue
			}
			b.outName[replies] = b.inName[i]
			b.out[replies].hdr.Namelen = b.in[i].hdr.Namelen
			b.outIov[replies].SetLen(copy(b.outBuf[replies][:], out))
			replies++
		}
		if err := b.send(replies); err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.counts.errors.Add(1)
		}
	}
}

// recv waits for at least one datagram and returns how many it read.
func (b *udpBatcher) recv() (int, error) {
	for i := range b.in {
		b.inIov[i] = syscall.Iovec{Base: &b.inBuf[i][0]}
		b.inIov[i].SetLen(udpMaxPacket)
		b.in[i] = mmsghdr{hdr: syscall.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&b.inName[i])),
			Namelen: uint32(unsafe.Sizeof(b.inName[i])),
			Iov:     &b.inIov[i],
			Iovlen:  1,
		}}
	}
	var n int
	var errno syscall.Errno
	err := b.rc.Read(func(fd uintptr) bool {
		r, _, e := syscall.Syscall6(sysRecvmmsg, fd, uintptr(unsafe.Pointer(&b.in[0])), udpBatch, syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EAGAIN || e == syscall.EWOULDBLOCK {
			return false // wait until the socket is readable
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// send writes the first n prepared answers, waiting while the socket's
// send buffer is full.
func (b *udpBatcher) send(n int) error {
	for i := range n {
		b.outIov[i].Base = &b.outBuf[i][0]
		b.out[i].hdr.Name = (*byte)(unsafe.Pointer(&b.outName[i]))
		b.out[i].hdr.Iov = &b.outIov[i]
		b.out[i].hdr.Iovlen = 1
	}
	sent := 0
	var errno syscall.Errno
	for sent < n && errno == 0 {
		err := b.rc.Write(func(fd uintptr) bool {
			r, _, e := syscall.Syscall6(sysSendmmsg, fd, uintptr(unsafe.Pointer(&b.out[sent])), uintptr(n-sent), syscall.MSG_DONTWAIT, 0, 0)
			switch {
			case e == syscall.EAGAIN || e == syscall.EWOULDBLOCK:
				return false
			case e != 0:
				// One bad destination must not hold up the rest of the
				// batch: skip it and report the error.
				errno = e
				sent++
			default:
				sent += int(r)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// sockaddrToAddrPort reads the sender's address that recvmmsg stored.
func sockaddrToAddrPort(sa *syscall.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	port := func(p uint16) uint16 {
		b := (*[2]byte)(unsafe.Pointer(&p))
		return uint16(b[0])<<8 | uint16(b[1])
	}
	switch sa.Family {
	case syscall.AF_INET:
		if n < syscall.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(sa4.Port)), true
	case syscall.AF_INET6:
		if n < syscall.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port(sa.Port)), true
	}
	return netip.AddrPort{}, false
}
