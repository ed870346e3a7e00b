package cpu

import "syscall"

// osYield offers the rest of the thread's time slice to other threads of
// the machine (sched_yield), so that a spinning worker does not starve a
// thread that does work when the cores are oversubscribed.
func osYield() {
	syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
