/* nsbox-init: what a container's side execs instead of its command, from a
 * sealed memfd (csrc/stub.c), so that /proc/self/exe is never the host's
 * interpreter when the command is exec'd: a command "#!/proc/self/exe" runs
 * this sealed copy, which nobody can write (CVE-2019-5736), instead of the
 * host's lua5.4. No libc: a few raw system calls (sys.h), nothing to load.
 *
 *   nsbox-exec FD PATH ARGV...  execve(PATH, ARGV); if that fails, the message
 *                               "exec_failed ERRNO" on FD (nsbox.channel's
 *                               framing) and exit 127 (ENOENT) or 126.
 *   nsbox-init FD PATH ARGV...  PID 1 of a new pid namespace: non-dumpable,
 *                               keeps its parent-death signal, forks the
 *                               command, says "running" (or "exec_failed") on
 *                               FD, then reaps every child, passes every
 *                               signal it can take (SIGCHLD aside) to the
 *                               command, and exits with its status (128+N
 *                               for signal N).
 *                               EOF on FD is the parent's death: everything
 *                               in the namespace is killed, init included
 *                               (only the command when init is not PID 1).
 *
 * FD is the channel to the parent; the caller blocks the signals init takes
 * before the exec, so that no signal is lost before init watches them. FD
 * followed by "t" (e.g. "3t"): fd 0 is a terminal of the container's own, and
 * the command (not init: it must get none of the terminal's signals) leads a
 * new session with it as its controlling terminal. */
#include "signals.h"
#include "sys.h"

#include <asm-generic/errno.h>
#include <asm-generic/poll.h>
#include <asm/ioctls.h>
#include <asm/signal.h>
#include <linux/fcntl.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/signalfd.h>
#include <linux/wait.h>

#define MSG_NOSIGNAL 0x4000

#define TAKEN NSBOX_INIT_SIGNALS /* signals.h: what init takes and passes on */

/* A session of the command's own, fd 0 its controlling terminal (tty mode):
 * 0, or the errno. setsid fails only for a session leader, which it is then. */
static int take_terminal(void)
{
	sys0(__NR_setsid);
	long r = sys3(__NR_ioctl, 0, TIOCSCTTY, 0);
	return r < 0 ? (int)-r : 0;
}

/* The compiler may emit calls to these for plain loops and initialisers. */
void *memset(void *d, int c, unsigned long n)
{
	volatile unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

__attribute__((noreturn)) static void leave(int code)
{
	for (;;)
		sys1(__NR_exit_group, code);
}

__attribute__((noreturn)) static void die(const char *why)
{
	static const char me[] = "nsbox-init: ";
	sys3(__NR_write, 2, me, sizeof me - 1);
	sys3(__NR_write, 2, why, len(why));
	sys3(__NR_write, 2, "\n", 1);
	leave(127);
}

/* One message on the channel: a 4-byte big-endian length, then the body. */
static void say(int fd, const char *kind, int e)
{
	char msg[64];
	unsigned long n = 4, k = len(kind);
	memcpy(msg + n, kind, k);
	n += k;
	if (e >= 0) {
		char digits[12];
		int d = 0;
		msg[n++] = ' ';
		do
			digits[d++] = (char)('0' + e % 10);
		while ((e /= 10) && d < (int)sizeof digits);
		while (d)
			msg[n++] = digits[--d];
	}
	unsigned long body = n - 4;
	for (int i = 0; i < 4; i++)
		msg[i] = (char)(body >> (24 - 8 * i));
	sys6(__NR_sendto, fd, (long)msg, (long)n, MSG_NOSIGNAL, 0, 0);
}

static int exec_status(int e)
{
	return e == ENOENT ? 127 : 126;
}

static int status_of(int st)
{
	if ((st & 0x7f) == 0)
		return (st >> 8) & 0xff;
	return 128 + (st & 0x7f);
}

/* A copy of path and argv (in one anonymous mapping) to exec the command from,
 * so that ours are blanked before the fork: ps inside sees "nsbox-init" from
 * the command's first instruction, not our arguments. NULL, and mmap's errno in
 * *err, if there is no memory. */
static char **copy_args(const char **path, char **argv, int *err)
{
	unsigned long n = 0, bytes = len(*path) + 1;
	for (; argv[n]; n++)
		bytes += len(argv[n]) + 1;
	unsigned long size = (n + 1) * sizeof(char *) + bytes;
	long m = sys6(__NR_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return *err = (int)-m, (char **)0;
	char **copy = (char **)m;
	char *at = (char *)(copy + n + 1);
	for (unsigned long i = 0; i <= n; i++) {
		const char *from = i < n ? argv[i] : *path;
		unsigned long k = len(from) + 1;
		memcpy(at, from, k);
		if (i < n)
			copy[i] = at;
		else
			*path = at;
		at += k;
	}
	copy[n] = 0;
	return copy;
}

__attribute__((noreturn)) static void init(int fd, int tty, const char *path, char **argv, char **envp)
{
	/* nothing inside may ptrace or read us */
	sys5(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
	sys5(__NR_prctl, PR_SET_NAME, (long)"nsbox-init", 0, 0, 0);
	long me = sys0(__NR_getpid);
	if (me == 1) {
		/* the parent's death kills us, and the kernel the namespace with us */
		sys5(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	} else {
		/* Not PID 1 (init = true without a pid namespace): our death kills
		 * no namespace, so the command gets a death signal of its own (set
		 * before its exec, so no change of its ids can have cleared it yet)
		 * and what it orphans comes to us to reap. The parent's death must
		 * reach us as the channel's EOF, not as a SIGKILL that would leave
		 * the command (its own death signal gone if it changed its ids)
		 * behind. */
		sys5(__NR_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0);
		sys5(__NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	}
	unsigned long set = TAKEN;
	sys4(__NR_rt_sigprocmask, SIG_BLOCK, &set, 0, sizeof set);
	long sfd = sys4(__NR_signalfd4, -1, &set, sizeof set, SFD_CLOEXEC | SFD_NONBLOCK);
	int pipefd[2];
	long r = sys2(__NR_pipe2, pipefd, O_CLOEXEC);
	int merr = 0;
	char **args = copy_args(&path, argv, &merr);
	if (sfd < 0 || r < 0 || !args) {
		say(fd, "exec_failed", sfd < 0 ? (int)-sfd : r < 0 ? (int)-r : merr);
		leave(126);
	}
	/* ps and pgrep inside show "nsbox-init", not the command a second time */
	for (char **a = argv - 2; *a; a++)
		for (char *c = *a; *c; c++)
			*c = 0;
	long pid = sys5(__NR_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		if (me != 1) {
			sys5(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (sys0(__NR_getppid) != me)
				leave(137); /* init is gone already */
		}
		unsigned long none = 0;
		sys4(__NR_rt_sigprocmask, SIG_SETMASK, &none, 0, sizeof none);
		int e = tty ? take_terminal() : 0;
		if (!e)
			e = (int)-sys3(__NR_execve, path, args, envp);
		sys3(__NR_write, pipefd[1], &e, sizeof e);
		leave(127);
	}
	if (pid < 0) {
		say(fd, "exec_failed", (int)-pid);
		leave(126);
	}
	sys1(__NR_close, pipefd[1]);
	int e = 0;
	do
		r = sys3(__NR_read, pipefd[0], &e, sizeof e);
	while (r == -EINTR);
	sys1(__NR_close, pipefd[0]);
	if (r == sizeof e) {
		say(fd, "exec_failed", e);
		leave(exec_status(e)); /* the child goes with us */
	}
	say(fd, "running", -1);
	for (;;) {
		struct pollfd pf[2] = { { .fd = (int)sfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
		r = sys5(__NR_ppoll, pf, 2, 0, 0, sizeof set);
		if (r < 0 && r != -EINTR)
			break;
		if (r > 0 && pf[1].revents) {
			char buf[64];
			r = sys3(__NR_read, fd, buf, sizeof buf);
			if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN))
				break; /* the parent is gone */
		}
		struct signalfd_siginfo si;
		while (sys3(__NR_read, sfd, &si, sizeof si) == (long)sizeof si)
			if ((int)si.ssi_signo != SIGCHLD)
				sys2(__NR_kill, pid, si.ssi_signo);
		int st;
		long w;
		while ((w = sys4(__NR_wait4, -1, &st, WNOHANG | __WALL, 0)) > 0)
			if (w == pid)
				leave(status_of(st)); /* the kernel kills the rest of the namespace */
		/* a wait refused (a seccomp profile of the recipe's): never a hang */
		if (w < 0 && w != -ECHILD && w != -EINTR)
			break;
	}
	/* in a pid namespace of our own, -1 is everything in it (and exiting
	 * kills the rest); anywhere else only the command is ours to kill */
	if (me == 1) {
		sys2(__NR_kill, -1, SIGKILL);
	} else { /* our process group (setsid made it ours), then the command itself */
		sys2(__NR_kill, -me, SIGKILL);
		sys2(__NR_kill, pid, SIGKILL);
	}
	leave(137);
}

__attribute__((noreturn, used)) void start(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	int as_init = argc > 0 && same(argv[0], "nsbox-init");
	if (argc < 4 || !(as_init || same(argv[0], "nsbox-exec")))
		die("nsbox runs this itself, as a container's init or exec stub");
	int fd = 0, tty = 0;
	for (const char *c = argv[1]; *c; c++) {
		if (c[0] == 't' && !c[1] && c > argv[1]) {
			tty = 1;
			break;
		}
		if (*c < '0' || *c > '9' || fd > 100000000)
			die("channel: not an fd number");
		fd = fd * 10 + (*c - '0');
	}
	if (sys3(__NR_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0)
		die("channel: not an open fd");
	if (as_init)
		init(fd, tty, argv[2], argv + 3, envp);
	int e = tty ? take_terminal() : 0;
	if (!e)
		e = (int)-sys3(__NR_execve, argv[2], argv + 3, envp);
	say(fd, "exec_failed", e);
	leave(exec_status(e));
}

__asm__(NSBOX_START_ASM);
