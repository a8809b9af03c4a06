//go:build amd64 && !purego

#include "textflag.h"

// The SHA-1 compression function of FIPS 180-4 section 6.1.2 for two
// independent messages, built on the SHA extensions. Semantics relied on
// (Intel SDM, "Intel SHA Extensions"), with dword 3 the most significant
// of an XMM register:
//
//   SHA1RNDS4 $f, src, dst: four rounds with function/constant f (one per
//     20 rounds) on state A,B,C,D = dst dwords 3..0, adding src dword 3
//     (W[t]+E) and dwords 2..0 (W[t+1..t+3]).
//   SHA1NEXTE src, dst: dst dword 3 = ROL30(dst dword 3) + src dword 3,
//     dwords 2..0 from src. Given A from four rounds earlier it yields
//     the E of the next four rounds (E = ROL30(A) four rounds on) plus W.
//   SHA1MSG1 src, dst: dst = dst ^ (dst dwords 1,0 : src dwords 3,2), i.e.
//     W[t-16]^W[t-14] for four t.
//   SHA1MSG2 src, dst: finishes W[t] = ROL1(dst ^ W[t-3]) with W[t-3] from
//     src dwords 2..0 and the freshly computed W[t] for the fourth word.
//
// Each lane keeps A,B,C,D in one register, E (plus W) alternately in two,
// and W in four registers of four words each, W[4k..4k+3] in
// M[k mod 4]. M[k+4] is built during groups k+1..k+3:
//   MSG1(M[k], M[k+1]) ^ M[k+2], then MSG2 with M[k+3].
// Lane a uses X0-X6, lane b X7-X13, and X14 holds the byte shuffle that
// turns 16 message bytes into four big-endian words, W[0] in dword 3.

// FIRST does rounds 0-3: E enters with only H4 in dword 3.
#define FIRST(abcd, e, enext, m) \
	PADDD m, e; \
	MOVO abcd, enext; \
	SHA1RNDS4 $0, e, abcd

// ROUNDS does four rounds with function f; e holds A of four rounds ago.
#define ROUNDS(f, abcd, e, enext, m) \
	SHA1NEXTE m, e; \
	MOVO abcd, enext; \
	SHA1RNDS4 $f, e, abcd

// LOADW loads four message words of block p at offset off into m.
#define LOADW(off, p, m) \
	MOVOU off(p), m; \
	PSHUFB X14, m

// func blocks2(sa, sb *[5]uint32, pa, pb *byte, n int)
// The 64-byte frame holds the chaining values at the start of a block:
// 0(SP) A-D of lane a, 16(SP) its E, 32(SP) and 48(SP) the same for b.
TEXT ·blocks2(SB), NOSPLIT, $64-40
	MOVQ sa+0(FP), SI
	MOVQ sb+8(FP), DI
	MOVQ pa+16(FP), AX
	MOVQ pb+24(FP), BX
	MOVQ n+32(FP), CX

	MOVOU shufMask<>(SB), X14
	// H0..H3 are stored H0 first; A must be in dword 3.
	MOVOU (SI), X0
	PSHUFD $0x1b, X0, X0
	PXOR X1, X1
	PINSRD $3, 16(SI), X1
	MOVOU (DI), X7
	PSHUFD $0x1b, X7, X7
	PXOR X8, X8
	PINSRD $3, 16(DI), X8

loop:
	MOVOU X0, 0(SP)
	MOVOU X1, 16(SP)
	MOVOU X7, 32(SP)
	MOVOU X8, 48(SP)
	LOADW(0, AX, X3)
	LOADW(0, BX, X10)
	LOADW(16, AX, X4)
	LOADW(16, BX, X11)
	LOADW(32, AX, X5)
	LOADW(32, BX, X12)
	LOADW(48, AX, X6)
	LOADW(48, BX, X13)

	// Rounds 0-3.
	FIRST(X0, X1, X2, X3)
	FIRST(X7, X8, X9, X10)

	// Rounds 4-7.
	ROUNDS(0, X0, X2, X1, X4)
	ROUNDS(0, X7, X9, X8, X11)
	SHA1MSG1 X4, X3
	SHA1MSG1 X11, X10

	// Rounds 8-11.
	ROUNDS(0, X0, X1, X2, X5)
	ROUNDS(0, X7, X8, X9, X12)
	SHA1MSG1 X5, X4
	PXOR X5, X3
	SHA1MSG1 X12, X11
	PXOR X12, X10

	// Rounds 12-15.
	ROUNDS(0, X0, X2, X1, X6)
	ROUNDS(0, X7, X9, X8, X13)
	SHA1MSG1 X6, X5
	PXOR X6, X4
	SHA1MSG2 X6, X3
	SHA1MSG1 X13, X12
	PXOR X13, X11
	SHA1MSG2 X13, X10

	// Rounds 16-19.
	ROUNDS(0, X0, X1, X2, X3)
	ROUNDS(0, X7, X8, X9, X10)
	SHA1MSG1 X3, X6
	PXOR X3, X5
	SHA1MSG2 X3, X4
	SHA1MSG1 X10, X13
	PXOR X10, X12
	SHA1MSG2 X10, X11

	// Rounds 20-23.
	ROUNDS(1, X0, X2, X1, X4)
	ROUNDS(1, X7, X9, X8, X11)
	SHA1MSG1 X4, X3
	PXOR X4, X6
	SHA1MSG2 X4, X5
	SHA1MSG1 X11, X10
	PXOR X11, X13
	SHA1MSG2 X11, X12

	// Rounds 24-27.
	ROUNDS(1, X0, X1, X2, X5)
	ROUNDS(1, X7, X8, X9, X12)
	SHA1MSG1 X5, X4
	PXOR X5, X3
	SHA1MSG2 X5, X6
	SHA1MSG1 X12, X11
	PXOR X12, X10
	SHA1MSG2 X12, X13

	// Rounds 28-31.
	ROUNDS(1, X0, X2, X1, X6)
	ROUNDS(1, X7, X9, X8, X13)
	SHA1MSG1 X6, X5
	PXOR X6, X4
	SHA1MSG2 X6, X3
	SHA1MSG1 X13, X12
	PXOR X13, X11
	SHA1MSG2 X13, X10

	// Rounds 32-35.
	ROUNDS(1, X0, X1, X2, X3)
	ROUNDS(1, X7, X8, X9, X10)
	SHA1MSG1 X3, X6
	PXOR X3, X5
	SHA1MSG2 X3, X4
	SHA1MSG1 X10, X13
	PXOR X10, X12
	SHA1MSG2 X10, X11

	// Rounds 36-39.
	ROUNDS(1, X0, X2, X1, X4)
	ROUNDS(1, X7, X9, X8, X11)
	SHA1MSG1 X4, X3
	PXOR X4, X6
	SHA1MSG2 X4, X5
	SHA1MSG1 X11, X10
	PXOR X11, X13
	SHA1MSG2 X11, X12

	// Rounds 40-43.
	ROUNDS(2, X0, X1, X2, X5)
	ROUNDS(2, X7, X8, X9, X12)
	SHA1MSG1 X5, X4
	PXOR X5, X3
	SHA1MSG2 X5, X6
	SHA1MSG1 X12, X11
	PXOR X12, X10
	SHA1MSG2 X12, X13

	// Rounds 44-47.
	ROUNDS(2, X0, X2, X1, X6)
	ROUNDS(2, X7, X9, X8, X13)
	SHA1MSG1 X6, X5
	PXOR X6, X4
	SHA1MSG2 X6, X3
	SHA1MSG1 X13, X12
	PXOR X13, X11
	SHA1MSG2 X13, X10

	// Rounds 48-51.
	ROUNDS(2, X0, X1, X2, X3)
	ROUNDS(2, X7, X8, X9, X10)
	SHA1MSG1 X3, X6
	PXOR X3, X5
	SHA1MSG2 X3, X4
	SHA1MSG1 X10, X13
	PXOR X10, X12
	SHA1MSG2 X10, X11

	// Rounds 52-55.
	ROUNDS(2, X0, X2, X1, X4)
	ROUNDS(2, X7, X9, X8, X11)
	SHA1MSG1 X4, X3
	PXOR X4, X6
	SHA1MSG2 X4, X5
	SHA1MSG1 X11, X10
	PXOR X11, X13
	SHA1MSG2 X11, X12

	// Rounds 56-59.
	ROUNDS(2, X0, X1, X2, X5)
	ROUNDS(2, X7, X8, X9, X12)
	SHA1MSG1 X5, X4
	PXOR X5, X3
	SHA1MSG2 X5, X6
	SHA1MSG1 X12, X11
	PXOR X12, X10
	SHA1MSG2 X12, X13

	// Rounds 60-63.
	ROUNDS(3, X0, X2, X1, X6)
	ROUNDS(3, X7, X9, X8, X13)
	SHA1MSG1 X6, X5
	PXOR X6, X4
	SHA1MSG2 X6, X3
	SHA1MSG1 X13, X12
	PXOR X13, X11
	SHA1MSG2 X13, X10

	// Rounds 64-67.
	ROUNDS(3, X0, X1, X2, X3)
	ROUNDS(3, X7, X8, X9, X10)
	SHA1MSG1 X3, X6
	PXOR X3, X5
	SHA1MSG2 X3, X4
	SHA1MSG1 X10, X13
	PXOR X10, X12
	SHA1MSG2 X10, X11

	// Rounds 68-71.
	ROUNDS(3, X0, X2, X1, X4)
	ROUNDS(3, X7, X9, X8, X11)
	PXOR X4, X6
	SHA1MSG2 X4, X5
	PXOR X11, X13
	SHA1MSG2 X11, X12

	// Rounds 72-75.
	ROUNDS(3, X0, X1, X2, X5)
	ROUNDS(3, X7, X8, X9, X12)
	SHA1MSG2 X5, X6
	SHA1MSG2 X12, X13

	// Rounds 76-79.
	ROUNDS(3, X0, X2, X1, X6)
	ROUNDS(3, X7, X9, X8, X13)
	// X1 and X8 hold A from before rounds 76-79, so SHA1NEXTE with the
	// saved E (H4 in dword 3, zeros below) gives H4 + E in dword 3 and
	// zeros below, ready for the next block's FIRST.
	MOVOU 16(SP), X3
	SHA1NEXTE X3, X1
	MOVOU 0(SP), X4
	PADDD X4, X0
	MOVOU 48(SP), X10
	SHA1NEXTE X10, X8
	MOVOU 32(SP), X11
	PADDD X11, X7

	ADDQ $64, AX
	ADDQ $64, BX
	DECQ CX
	JNZ loop

	PSHUFD $0x1b, X0, X0
	MOVOU X0, (SI)
	PEXTRD $3, X1, 16(SI)
	PSHUFD $0x1b, X7, X7
	MOVOU X7, (DI)
	PEXTRD $3, X8, 16(DI)
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// shufMask reverses the 16 bytes of a register: byte i takes byte 15-i.
DATA shufMask<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA shufMask<>+8(SB)/8, $0x0001020304050607
GLOBL shufMask<>(SB), RODATA|NOPTR, $16
