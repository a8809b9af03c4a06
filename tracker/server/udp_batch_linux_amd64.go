package server

// System call numbers of recvmmsg(2) and sendmmsg(2) on linux/amd64 (the
// syscall package lacks SYS_SENDMMSG there).
const (
	sysRecvmmsg = 299
	sysSendmmsg = 307
)
