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
