/* Processes: clone3 spawn into new namespaces, pidfd wait with signal forwarding,
 * pidfd kill, the sync channel (socketpair, read, write), fd hygiene and prctl. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* What the cloned child needs, prepared before clone: the child may not allocate. */
struct spawn_plan {
	const char *path;
	char **argv;
	char **envp;
	int *keep;
	int nkeep;
	int ctl;       /* child's end of the control socket: waits on it, reports exec errno on it */
	int pdeathsig;
	int setsid;
	int stdio[3]; /* fds to become 0, 1, 2; -1 to inherit */
};

/* Runs in the cloned child: async-signal-safe calls only, then execve (or,
 * for a fork, a return to the caller once the parent said go). */
static int spawn_child(const struct spawn_plan *p)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL/SIGSTOP and reserved ones */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->pdeathsig)
		prctl(PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0);
	/* Wait for the parent's go (after it wrote the id maps). EOF: the parent is gone. */
	char go;
	ssize_t r;
	do
		r = read(p->ctl, &go, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		_exit(127);
	if (!p->path) {
		close(p->ctl);
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (p->stdio[i] >= 0 && (p->stdio[i] == i ? fcntl(i, F_SETFD, 0) : dup2(p->stdio[i], i)) < 0)
			goto fail;
	for (int i = 0; i < p->nkeep; i++)
		if (fcntl(p->keep[i], F_SETFD, 0) < 0)
			goto fail;
	if (p->setsid && setsid() < 0)
		goto fail;
	execve(p->path, p->argv, p->envp);
fail:;
	int e = errno;
	if (write(p->ctl, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

/* Threads of this process: a fork may only go on running Lua when it is 1. */
static long thread_count(void)
{
	struct stat st;
	if (stat("/proc/self/task", &st) < 0)
		return -1;
	return (long)st.st_nlink - 2;
}

/* Build a NULL-terminated char* array from the array at field k; strings stay anchored in the table. */
static char **str_array(lua_State *L, int t, const char *k, int required)
{
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "field '%s': table expected", k);
		return NULL;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, -1);
	char **v = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *v, 0);
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_geti(L, -2, i) != LUA_TSTRING)
			luaL_error(L, "field '%s'[%d]: string expected", k, (int)i);
		v[i - 1] = (char *)lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	v[n] = NULL;
	/* Keep the userdata alive in the registry-free way: leave it on the stack. */
	lua_remove(L, -2);
	return v;
}

static int *int_array(lua_State *L, int t, const char *k, int *n)
{
	*n = 0;
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	lua_Integer len = luaL_len(L, -1);
	int *v = lua_newuserdatauv(L, (size_t)(len + 1) * sizeof *v, 0);
	for (lua_Integer i = 1; i <= len; i++) {
		lua_geti(L, -2, i);
		int ok;
		lua_Integer x = lua_tointegerx(L, -1, &ok);
		if (!ok || x < 0 || x > 0x7fffffff)
			luaL_error(L, "field '%s'[%d]: file descriptor expected", k, (int)i);
		v[i - 1] = (int)x;
		lua_pop(L, 1);
	}
	lua_remove(L, -2);
	*n = (int)len;
	return v;
}

static void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

/* Kill and reap a child that will not be handed to the caller. */
static void abandon(pid_t pid, int pidfd)
{
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
}

/***
 * Start a process with clone3, optionally in new namespaces, and exec it.
 * The child resets signals, sets its parent-death signal, then waits until
 * `setup(pid)` (run here, in the parent) has returned, before it calls execve:
 * that is where the parent writes the id maps. Returns after the exec
 * succeeded or failed.
 *
 * With `fork = true` (and no `path`) there is no exec: the child returns 0
 * from spawn once setup is done and goes on running this Lua state, as after
 * fork(2). That is only safe in a single-threaded process, so spawn refuses
 * (EBUSY, nothing started) when this process has other threads; the caller
 * then re-executes instead. The child must leave with `_exit` or an exec.
 * @function spawn
 * @tparam table spec `path`, `argv`, `env` (array of "K=V"; default: this
 *   process's environment), `flags` (CLONE_NEW* bits), `pdeathsig`,
 *   `keep_fds` (fds passed across exec), `stdin`/`stdout`/`stderr` (fds to
 *   become 0, 1, 2), `setsid`, `setup` (function(pid)
 *   returning true or nil, message), `fork`
 * @treturn integer pid (0 in a forked child)
 * @treturn integer pidfd (close-on-exec; none in a forked child)
 */
static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct spawn_plan p;
	memset(&p, 0, sizeof p);
	lua_settop(L, 1);
	int forked = nsbox_opt_bool_field(L, 1, "fork", 0);
	p.path = nsbox_opt_str_field(L, 1, "path", NULL);
	if (!p.path == !forked)
		return luaL_error(L, forked ? "field 'path': not with fork" : "field 'path': string expected");
	p.argv = str_array(L, 1, "argv", !forked);      /* stack 2 */
	p.envp = str_array(L, 1, "env", 0);           /* stack 3 if present */
	if (!p.envp)
		p.envp = environ;
	p.keep = int_array(L, 1, "keep_fds", &p.nkeep);
	p.pdeathsig = (int)nsbox_opt_int_field(L, 1, "pdeathsig", 0);
	p.setsid = nsbox_opt_bool_field(L, 1, "setsid", 0);
	static const char *const stdio[3] = { "stdin", "stdout", "stderr" };
	for (int i = 0; i < 3; i++) {
		lua_Integer fd = nsbox_opt_int_field(L, 1, stdio[i], -1);
		luaL_argcheck(L, fd >= -1 && fd <= 0x7fffffff, 1, "stdio: file descriptor expected");
		p.stdio[i] = (int)fd;
	}
	uint64_t flags = (uint64_t)nsbox_opt_int_field(L, 1, "flags", 0);
	lua_getfield(L, 1, "setup");
	int setup = lua_gettop(L);
	if (!lua_isnil(L, setup))
		luaL_checktype(L, setup, LUA_TFUNCTION);

	long threads = forked ? thread_count() : 1;
	if (threads < 0)
		return nsbox_fail(L, errno, "fork: counting this process's threads (/proc/self/task)");
	if (threads != 1)
		return nsbox_fail(L, EBUSY, "fork: this process has %ld threads", threads);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return nsbox_fail(L, errno, "socketpair");
	p.ctl = sv[1];

	int pidfd = -1;
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = flags | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		spawn_child(&p);
		/* A copy of the caller's state: no finalizer of its objects may run
		 * here (a dropped box's __gc would kill a sibling container). */
		lua_gc(L, LUA_GCSTOP);
		lua_pushinteger(L, 0);
		return 1;
	}
	close_keep_errno(sv[1]);
	if (pid < 0) {
		close_keep_errno(sv[0]);
		return nsbox_fail(L, errno, "clone3(%s)", p.path ? p.path : "fork");
	}

	if (setup != 0 && !lua_isnil(L, setup)) {
		lua_pushvalue(L, setup);
		lua_pushinteger(L, pid);
		int bad = lua_pcall(L, 1, 2, 0);
		if (bad || !lua_toboolean(L, -2)) {
			abandon(pid, pidfd);
			close(sv[0]);
			const char *msg = bad ? lua_tostring(L, -1) : luaL_optstring(L, -1, "setup failed");
			return nsbox_fail_msg(L, EINVAL, "%s", msg ? msg : "setup failed");
		}
		lua_pop(L, 2);
	}

	int err = 0;
	char go = 1;
	if (write(sv[0], &go, 1) != 1) {
		err = errno;
	} else if (!forked) {
		ssize_t r;
		do
			r = read(sv[0], &err, sizeof err);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			err = errno;
	}
	close(sv[0]);
	if (err) {
		abandon(pid, pidfd);
		return nsbox_fail(L, err, forked ? "fork: go" : "execve(%s)", p.path);
	}
	lua_pushinteger(L, pid);
	lua_pushinteger(L, pidfd);
	return 2;
}

static int push_status(lua_State *L, const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		lua_pushliteral(L, "exited");
		break;
	case CLD_KILLED:
		lua_pushliteral(L, "killed");
		break;
	case CLD_DUMPED:
		lua_pushliteral(L, "dumped");
		break;
	default:
		lua_pushliteral(L, "unknown");
	}
	lua_pushinteger(L, si->si_status);
	return 2;
}

/* The signal numbers listed in the table at arg. */
static void signal_set(lua_State *L, int arg, sigset_t *set)
{
	sigemptyset(set);
	luaL_checktype(L, arg, LUA_TTABLE);
	lua_Integer n = luaL_len(L, arg);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, arg, i);
		sigaddset(set, (int)luaL_checkinteger(L, -1));
		lua_pop(L, 1);
	}
}

/* Block the signals listed in the table at arg, return a signalfd for them (or -1). */
static int forward_fd(lua_State *L, int arg, sigset_t *set, sigset_t *old)
{
	sigemptyset(set);
	if (lua_isnoneornil(L, arg))
		return -1;
	signal_set(L, arg, set);
	if (sigprocmask(SIG_BLOCK, set, old) < 0)
		return -1;
	int fd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		sigprocmask(SIG_SETMASK, old, NULL);
	return fd;
}

/***
 * Wait for the process behind a pidfd to end, forwarding the listed signals to it meanwhile.
 * The signals are blocked only for the duration of the wait.
 * @function wait
 * @tparam integer pidfd
 * @tparam[opt] table forward signal numbers to forward
 * @treturn string "exited", "killed" or "dumped"
 * @treturn integer exit code or signal number
 */
static int l_wait(lua_State *L)
{
	int pidfd = nsbox_check_fd(L, 1);
	sigset_t set, old;
	int sfd = forward_fd(L, 2, &set, &old);
	siginfo_t si;
	int err = 0;
	for (;;) {
		if (sfd >= 0) {
			struct pollfd pf[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
			if (poll(pf, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				err = errno;
				break;
			}
			struct signalfd_siginfo ss;
			while (read(sfd, &ss, sizeof ss) == (ssize_t)sizeof ss)
				syscall(SYS_pidfd_send_signal, pidfd, (int)ss.ssi_signo, NULL, 0);
			if (!(pf[0].revents & POLLIN))
				continue;
		}
		memset(&si, 0, sizeof si);
		if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) == 0)
			break;
		if (errno != EINTR) {
			err = errno;
			break;
		}
	}
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (err)
		return nsbox_fail(L, err, "waitid(pidfd %d)", pidfd);
	return push_status(L, &si);
}

/***
 * Block the listed signals (sigprocmask SIG_BLOCK): they wait, pending, for a
 * later `wait` or `reap` to forward them instead of being lost before it runs.
 * @function sigblock
 * @tparam table signals signal numbers
 * @treturn boolean true
 */
static int l_sigblock(lua_State *L)
{
	sigset_t set;
	signal_set(L, 1, &set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return nsbox_fail(L, errno, "sigprocmask");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * The loop of a tiny init (PID 1): wait for pid while reaping every other child
 * that ends (orphans re-parented to us), forwarding the listed signals to pid.
 * @function reap
 * @tparam integer pid the main child
 * @tparam[opt] table forward signal numbers
 * @treturn string "exited", "killed" or "dumped"
 * @treturn integer exit code or signal number
 */
static int l_reap(lua_State *L)
{
	pid_t main_pid = (pid_t)luaL_checkinteger(L, 1);
	lua_settop(L, 2);
	if (lua_isnil(L, 2))
		lua_newtable(L), lua_replace(L, 2);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_pushinteger(L, SIGCHLD);
	lua_rawseti(L, 2, luaL_len(L, 2) + 1);
	sigset_t set, old;
	int sfd = forward_fd(L, 2, &set, &old);
	if (sfd < 0)
		return nsbox_fail(L, errno, "signalfd");
	int status = 0, err = 0, done = 0;
	while (!done) {
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
			if (p == main_pid)
				status = st, done = 1;
		if (done)
			break;
		if (p < 0 && errno != EINTR) {
			err = errno;
			break;
		}
		struct pollfd pf = { .fd = sfd, .events = POLLIN };
		if (poll(&pf, 1, -1) < 0 && errno != EINTR) {
			err = errno;
			break;
		}
		struct signalfd_siginfo ss;
		while (read(sfd, &ss, sizeof ss) == (ssize_t)sizeof ss)
			if (ss.ssi_signo != SIGCHLD)
				kill(main_pid, (int)ss.ssi_signo);
	}
	close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err)
		return nsbox_fail(L, err, "waitpid(%d)", (int)main_pid);
	if (WIFEXITED(status)) {
		lua_pushliteral(L, "exited");
		lua_pushinteger(L, WEXITSTATUS(status));
	} else {
		lua_pushstring(L, WCOREDUMP(status) ? "dumped" : "killed");
		lua_pushinteger(L, WTERMSIG(status));
	}
	return 2;
}

/***
 * Poll a pidfd's process without blocking.
 * @function poll
 * @tparam integer pidfd
 * @treturn string|boolean false while it runs, else "exited"/"killed"/"dumped" and the code
 */
static int l_poll(lua_State *L)
{
	int pidfd = nsbox_check_fd(L, 1);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | __WALL) < 0)
		return nsbox_fail(L, errno, "waitid(pidfd %d)", pidfd);
	if (si.si_pid == 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	return push_status(L, &si);
}

/***
 * Send a signal through a pidfd (no pid reuse race).
 * @function kill
 * @tparam integer pidfd
 * @tparam integer sig
 */
static int l_kill(lua_State *L)
{
	int pidfd = nsbox_check_fd(L, 1);
	int sig = (int)luaL_checkinteger(L, 2);
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return nsbox_fail(L, errno, "pidfd_send_signal(%d)", sig);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Open a pidfd for a pid.
 * @function pidfd_open
 * @tparam integer pid
 * @treturn integer pidfd (close-on-exec)
 */
static int l_pidfd_open(lua_State *L)
{
	pid_t pid = (pid_t)luaL_checkinteger(L, 1);
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return nsbox_fail(L, errno, "pidfd_open(%d)", (int)pid);
	lua_pushinteger(L, fd);
	return 1;
}

/***
 * A connected pair of close-on-exec Unix stream sockets.
 * @function socketpair
 * @treturn integer fd
 * @treturn integer fd
 */
static int l_socketpair(lua_State *L)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return nsbox_fail(L, errno, "socketpair");
	lua_pushinteger(L, sv[0]);
	lua_pushinteger(L, sv[1]);
	return 2;
}

/***
 * A close-on-exec pipe.
 * @function pipe
 * @treturn integer read end
 * @treturn integer write end
 */
static int l_pipe(lua_State *L)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return nsbox_fail(L, errno, "pipe");
	lua_pushinteger(L, p[0]);
	lua_pushinteger(L, p[1]);
	return 2;
}

/***
 * dup2(2): make newfd a copy of oldfd (without close-on-exec).
 * @function dup2
 * @tparam integer oldfd
 * @tparam integer newfd
 */
static int l_dup2(lua_State *L)
{
	int from = nsbox_check_fd(L, 1), to = nsbox_check_fd(L, 2);
	int r = from == to ? fcntl(from, F_SETFD, 0) : dup2(from, to);
	if (r < 0)
		return nsbox_fail(L, errno, "dup2(%d, %d)", from, to);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Read exactly n bytes (fewer only at end of file).
 * @function read
 * @tparam integer fd
 * @tparam integer n
 * @treturn string the bytes ("" at end of file)
 */
static int l_read(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_argcheck(L, n >= 0 && n <= (1 << 30), 2, "size out of range");
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)n);
	size_t got = 0;
	while (got < (size_t)n) {
		ssize_t r = read(fd, p + got, (size_t)n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return nsbox_fail(L, errno, "read(fd %d)", fd);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	luaL_pushresultsize(&b, got);
	return 1;
}

/***
 * Read until end of file.
 * @function read_all
 * @tparam integer fd
 * @treturn string everything read
 */
static int l_read_all(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (;;) {
		char *p = luaL_prepbuffer(&b);
		ssize_t r = read(fd, p, LUAL_BUFFERSIZE);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return nsbox_fail(L, errno, "read(fd %d)", fd);
		if (r == 0)
			break;
		luaL_addsize(&b, (size_t)r);
	}
	luaL_pushresult(&b);
	return 1;
}

/***
 * Write all of a string.
 * @function write
 * @tparam integer fd
 * @tparam string data
 */
static int l_write(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	while (len > 0) {
		ssize_t r = send(fd, s, len, MSG_NOSIGNAL);
		if (r < 0 && errno == ENOTSOCK)
			r = write(fd, s, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return nsbox_fail(L, errno, "write(fd %d)", fd);
		s += r;
		len -= (size_t)r;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Close an fd.
 * @function close
 * @tparam integer fd
 */
static int l_close(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	if (close(fd) < 0 && errno != EINTR)
		return nsbox_fail(L, errno, "close(%d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * close_range(2): close (or, with CLOSE_RANGE_CLOEXEC, mark) fds first..last.
 * @function close_range
 * @tparam integer first
 * @tparam[opt] integer last default: the highest possible fd
 * @tparam[opt] integer flags
 */
static int l_close_range(lua_State *L)
{
	unsigned first = (unsigned)luaL_checkinteger(L, 1);
	unsigned last = (unsigned)luaL_optinteger(L, 2, ~0U);
	unsigned flags = (unsigned)luaL_optinteger(L, 3, 0);
	if (syscall(SYS_close_range, first, last, flags) < 0)
		return nsbox_fail(L, errno, "close_range(%u, %u)", first, last);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Set or clear an fd's close-on-exec flag.
 * @function cloexec
 * @tparam integer fd
 * @tparam boolean on
 */
static int l_cloexec(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	int on = lua_toboolean(L, 2);
	if (fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0) < 0)
		return nsbox_fail(L, errno, "fcntl(%d, F_SETFD)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * prctl(2) with integer arguments.
 * @function prctl
 * @tparam integer option e.g. core.PR_SET_NO_NEW_PRIVS
 * @treturn integer the call's result
 */
static int l_prctl(lua_State *L)
{
	int op = (int)luaL_checkinteger(L, 1);
	unsigned long a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (unsigned long)luaL_optinteger(L, i + 2, 0);
	int r = prctl(op, a[0], a[1], a[2], a[3]);
	if (r < 0)
		return nsbox_fail(L, errno, "prctl(%d)", op);
	lua_pushinteger(L, r);
	return 1;
}

/***
 * execve(2): replace this process. Returns only on failure.
 * @function execve
 * @tparam string path
 * @tparam table argv
 * @tparam[opt] table env array of "K=V"; default: this process's environment
 */
static int l_execve(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 3);
	lua_newtable(L);
	lua_pushvalue(L, 2);
	lua_setfield(L, 4, "argv");
	lua_pushvalue(L, 3);
	lua_setfield(L, 4, "env");
	char **argv = str_array(L, 4, "argv", 1);
	char **envp = str_array(L, 4, "env", 0);
	execve(path, argv, envp ? envp : environ);
	return nsbox_fail(L, errno, "execve(%s)", path);
}

/***
 * Empty the inheritable and ambient capability sets, so that nothing but the
 * bounding set's survivors can come back at exec.
 * @function clear_inheritable
 */
static int l_clear_inheritable(lua_State *L)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return nsbox_fail(L, errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	if (syscall(SYS_capget, &h, d) < 0)
		return nsbox_fail(L, errno, "capget");
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) < 0)
		return nsbox_fail(L, errno, "capset");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * setsid(2).
 * @function setsid
 */
static int l_setsid(lua_State *L)
{
	if (setsid() < 0)
		return nsbox_fail(L, errno, "setsid");
	lua_pushboolean(L, 1);
	return 1;
}

#define ID_GETTER(fn)                              \
	static int l_##fn(lua_State *L)            \
	{                                          \
		lua_pushinteger(L, (lua_Integer)fn()); \
		return 1;                          \
	}
/*** getpid(2).
 * @function getpid */
ID_GETTER(getpid)
/*** getuid(2).
 * @function getuid */
ID_GETTER(getuid)
/*** getgid(2).
 * @function getgid */
ID_GETTER(getgid)
/*** geteuid(2).
 * @function geteuid */
ID_GETTER(geteuid)

/***
 * This process's environment.
 * @function environ
 * @treturn table array of "K=V"
 */
static int l_environ(lua_State *L)
{
	lua_newtable(L);
	for (int i = 0; environ[i]; i++) {
		lua_pushstring(L, environ[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/***
 * setenv(3), or unsetenv(3) when value is nil.
 * @function setenv
 * @tparam string name
 * @tparam[opt] string value
 */
static int l_setenv(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *value = luaL_optstring(L, 2, NULL);
	if ((value ? setenv(name, value, 1) : unsetenv(name)) < 0)
		return nsbox_fail(L, errno, "setenv(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Peak resident set size from getrusage(2), in KiB.
 * @function maxrss
 * @tparam[opt="self"] string who "self" or "children" (the largest waited-for child, across its execs)
 * @treturn integer
 */
static int l_maxrss(lua_State *L)
{
	static const char *const whos[] = { "self", "children", NULL };
	int who = luaL_checkoption(L, 1, "self", whos) ? RUSAGE_CHILDREN : RUSAGE_SELF;
	struct rusage ru;
	if (getrusage(who, &ru) < 0)
		return nsbox_fail(L, errno, "getrusage");
	lua_pushinteger(L, ru.ru_maxrss);
	return 1;
}

/***
 * clock_gettime(CLOCK_MONOTONIC) in seconds, for timing.
 * @function clock
 * @treturn number
 */
static int l_clock(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/***
 * _exit(2): leave at once, without running Lua's finalizers.
 * @function _exit
 * @tparam integer code
 */
static int l__exit(lua_State *L)
{
	_exit((int)luaL_optinteger(L, 1, 0));
}

void nsbox_open_process(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "spawn", l_spawn }, { "wait", l_wait }, { "reap", l_reap }, { "sigblock", l_sigblock }, { "poll", l_poll }, { "kill", l_kill },
		{ "pidfd_open", l_pidfd_open }, { "socketpair", l_socketpair }, { "read", l_read },
		{ "write", l_write }, { "read_all", l_read_all }, { "close", l_close }, { "close_range", l_close_range },
		{ "cloexec", l_cloexec }, { "prctl", l_prctl }, { "execve", l_execve },
		{ "setsid", l_setsid }, { "clear_inheritable", l_clear_inheritable }, { "pipe", l_pipe }, { "dup2", l_dup2 }, { "getpid", l_getpid }, { "getuid", l_getuid },
		{ "getgid", l_getgid }, { "geteuid", l_geteuid }, { "_exit", l__exit },
		{ "environ", l_environ }, { "setenv", l_setenv }, { "clock", l_clock }, { "maxrss", l_maxrss },
		{ NULL, NULL }
	};
	static const struct nsbox_const consts[] = {
		{ "PR_SET_PDEATHSIG", PR_SET_PDEATHSIG }, { "PR_GET_PDEATHSIG", PR_GET_PDEATHSIG },
		{ "PR_SET_DUMPABLE", PR_SET_DUMPABLE }, { "PR_GET_DUMPABLE", PR_GET_DUMPABLE },
		{ "PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS }, { "PR_GET_NO_NEW_PRIVS", PR_GET_NO_NEW_PRIVS },
		{ "PR_CAPBSET_DROP", PR_CAPBSET_DROP }, { "PR_CAPBSET_READ", PR_CAPBSET_READ },
		{ "PR_SET_CHILD_SUBREAPER", PR_SET_CHILD_SUBREAPER },
		{ "CLOSE_RANGE_CLOEXEC", CLOSE_RANGE_CLOEXEC },
		{ "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT }, { "SIGKILL", SIGKILL },
		{ "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 }, { "SIGTERM", SIGTERM }, { "SIGCHLD", SIGCHLD },
		{ "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP }, { "SIGPIPE", SIGPIPE }, { "SIGWINCH", SIGWINCH },
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
