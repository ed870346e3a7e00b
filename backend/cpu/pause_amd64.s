//go:build !purego

#include "textflag.h"

// func cpuPause()
//
// Executes PAUSE a few times: the spin-wait hint that lets the core's
// other work and the memory system go first, without a system call.
TEXT ·cpuPause(SB), NOSPLIT, $0-0
	PAUSE
	PAUSE
	PAUSE
	PAUSE
	PAUSE
	PAUSE
	PAUSE
	PAUSE
	RET

// func cycles() uint64
//
// The time-stamp counter (RDTSC): a cheap clock for per-node timings,
// scaled to seconds against the wall clock over each run.
TEXT ·cycles(SB), NOSPLIT, $0-8
	RDTSC
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET
