package server

// System call numbers of recvmmsg(2) and sendmmsg(2) on linux/arm64.
const (
	sysRecvmmsg = 243
	sysSendmmsg = 269
)
