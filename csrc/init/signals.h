/* The signals nsbox-init takes and passes on to the command (SIGCHLD aside): all
 * but SIGKILL and SIGSTOP, which nobody can take, and the synchronous ones a
 * fault of init's own raises (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV,
 * SIGSYS). One mask of signals 1..64 (bit N-1: signal N), for init (no libc) and
 * for nsbox.core, which blocks the same set before init's exec. Numbers, not the
 * SIG* names: the kernel's and the C library's headers cannot both be included. */
#ifndef NSBOX_INIT_SIGNALS_H
#define NSBOX_INIT_SIGNALS_H

#define NSBOX_SIGBIT(n) (1UL << ((n) - 1))
#define NSBOX_INIT_SIGNALS                                                                       \
	(~0UL & ~(NSBOX_SIGBIT(9) | NSBOX_SIGBIT(19) | NSBOX_SIGBIT(4) | NSBOX_SIGBIT(5) |        \
		  NSBOX_SIGBIT(6) | NSBOX_SIGBIT(7) | NSBOX_SIGBIT(8) | NSBOX_SIGBIT(11) | NSBOX_SIGBIT(31)))

#endif
