/* seccomp probe for spec/seccomp_spec.lua: makes each system call a filter
 * should refuse or allow, as a raw syscall(2) (or int $0x80 for the i386 ABI,
 * the x32 bit for the x32 ABI), and prints "NAME ERRNO" per line (0: the call
 * succeeded), then the Seccomp lines of /proc/self/status. The arguments are
 * harmless: where the call is allowed it fails on them (EFAULT, EINVAL,
 * ENOTTY) or does nothing lasting. Built static by the spec; runs on the host
 * or inside the busybox rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define X32_BIT 0x40000000L

static void report(const char *name, long r)
{
	printf("%s %d\n", name, r < 0 ? errno : 0);
}

/* A raw call: -1 and errno on failure, as syscall(2). */
#define CALL(name, ...) report(name, syscall(__VA_ARGS__))

/* The i386 ABI from this 64-bit process: int $0x80, the kernel's compat table. */
static long i386_call(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static void *nothing(void *arg)
{
	return arg;
}

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	int fd = p[0]; /* not a terminal: an allowed tty ioctl gets ENOTTY */

	CALL("getpid", SYS_getpid);
	CALL("keyctl", SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0L);
	CALL("add_key", SYS_add_key, "user", "nsbox-probe", "x", 1L, -2 /* process keyring */);
	CALL("request_key", SYS_request_key, "user", "nsbox-probe", NULL, 0L);
	CALL("bpf", SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0L);
	CALL("perf_event_open", SYS_perf_event_open, NULL, 0L, -1L, -1L, 0L);
	CALL("userfaultfd", SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	CALL("kexec_load", SYS_kexec_load, 0L, 1000L /* > KEXEC_SEGMENT_MAX: EINVAL */, NULL, 0L);
	CALL("open_by_handle_at", SYS_open_by_handle_at, AT_FDCWD, NULL, 0L);
	CALL("init_module", SYS_init_module, NULL, 0L, "");
	CALL("finit_module", SYS_finit_module, -1L, "", 0L);
	CALL("mount", SYS_mount, NULL, NULL, NULL, 0L, NULL);
	CALL("unshare", SYS_unshare, (long)CLONE_NEWUTS);
	CALL("ptrace", SYS_ptrace, 2L /* PTRACE_PEEKDATA */, 0L /* no such tracee */, 0L, 0L);
	CALL("unknown_1000", 1000L);
	CALL("clone3", SYS_clone3, NULL, 0L);
	/* clone with a namespace flag: not the allowed form of clone */
	long c = syscall(SYS_clone, (long)(CLONE_NEWUTS | SIGCHLD), NULL, NULL, NULL, 0L);
	if (c == 0)
		_exit(0);
	report("clone_newuts", c);
	if (c > 0)
		waitpid((pid_t)c, NULL, 0);
	CALL("personality_query", SYS_personality, 0xffffffffL);
	CALL("personality_no_randomize", SYS_personality, 0x0040000L);

	CALL("ioctl_tiocsti", SYS_ioctl, fd, (long)TIOCSTI, "x");
	CALL("ioctl_tiocsti_high", SYS_ioctl, fd, (long)TIOCSTI | 0x100000000L, "x");
	CALL("ioctl_tioclinux", SYS_ioctl, fd, (long)TIOCLINUX, "x");
	CALL("ioctl_tcgets", SYS_ioctl, fd, (long)TCGETS, NULL);

	/* glibc's own: fork is clone(SIGCHLD|...), a thread is clone3 and,
	 * refused with ENOSYS, clone */
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	int st = 0;
	if (child > 0 && (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 7))
		errno = ECHILD, child = -1;
	report("fork", child);
	pthread_t t;
	int e = pthread_create(&t, NULL, nothing, NULL);
	if (e == 0)
		pthread_join(t, NULL);
	errno = e;
	report("thread", e ? -1 : 0);

	report("i386_getpid", i386_call(20, 0, 0, 0));
	report("i386_keyctl", i386_call(288, 0, -3, 0));
	report("i386_ioctl_tiocsti", i386_call(54, fd, TIOCSTI, 0));
	report("i386_ioctl_tcgets", i386_call(54, fd, TCGETS, 0));
	CALL("x32_getpid", X32_BIT | 39);
	CALL("x32_keyctl", X32_BIT | 250, 0L, -3L, 0L);

	fflush(stdout);
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "Seccomp", 7))
			fputs(line, stdout);
	return 0;
}
