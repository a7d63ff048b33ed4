/* Starting processes: clone3 into new namespaces (exec'd, or a fork that goes
 * on in this Lua state), held on the caller's channel until it says go;
 * execve, exec of an fd (the sealed nsbox-init, stub.c), setsid and _exit.
 * Waiting for them is wait.c. */
#include "common.h"
#include "stub.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What the cloned child needs, prepared before clone: the child may not allocate. */
struct spawn_plan {
	const char *path; /* what is exec'd, or only its name when exec_fd is set */
	int exec_fd;      /* >= 0: exec this fd (execveat AT_EMPTY_PATH) instead of path */
	int *open;        /* the fds the child keeps, sorted: all others close at once */
	int nopen;
	int parent;       /* a pidfd of the caller, -1: the child's check that it is alive */
	char **argv;
	char **envp;
	int *keep;
	int nkeep;
	int chan;  /* the child's end of the channel: it waits on it and reports on it */
	int peer;  /* the parent's end, or -1: closed in the child, so the parent's death is EOF */
	int own;   /* spawn made the channel: a go byte, an exec errno, nothing else on it */
	int hold;  /* wait for the parent's go before exec (or return) */
	int pdeathsig;
	int root;  /* become uid and gid 0 of the new user namespace after the go */
	int setsid;
	int stdio[3]; /* fds to become 0, 1, 2; -1 to inherit */
	struct sock_fprog *filters; /* seccomp programs loaded last before exec */
	int nfilters;
	struct spawn_rlimit { int resource; struct rlimit rl; } *rlimits; /* set before the filters */
	int nrlimits;
};

/* The one message the child writes on a caller's channel, in the framing of
 * nsbox.channel: a 4-byte big-endian length, then "exec_failed <errno>".
 * Async-signal-safe: no allocation, no stdio. */
static void report_exec_failed(int fd, int e)
{
	static const char kind[] = "exec_failed ";
	char msg[4 + sizeof kind + 12], digits[12];
	size_t n = 4;
	memcpy(msg + n, kind, sizeof kind - 1);
	n += sizeof kind - 1;
	int k = 0;
	unsigned u = (unsigned)e;
	do
		digits[k++] = (char)('0' + u % 10);
	while ((u /= 10) && k < (int)sizeof digits);
	while (k)
		msg[n++] = digits[--k];
	uint32_t len = (uint32_t)(n - 4);
	for (int i = 0; i < 4; i++)
		msg[i] = (char)(len >> (24 - 8 * i));
	if (send(fd, msg, n, MSG_NOSIGNAL) < 0)
		_exit(127);
}

/* Runs in the cloned child: async-signal-safe calls only, then execve (or,
 * for a fork, a return to the caller once the parent said go). */
static int spawn_child(const struct spawn_plan *p)
{
	if (p->pdeathsig) {
		prctl(PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0);
		/* A parent that died before the prctl sends no signal, and under
		 * CLONE_NEWPID getppid() cannot tell: its pidfd can. */
		struct pollfd pf = { .fd = p->parent, .events = POLLIN };
		if (p->parent >= 0 && poll(&pf, 1, 0) == 1)
			_exit(127);
	}
	if (p->parent >= 0)
		close(p->parent);
	if (p->open) {
		/* close_fds: nothing of the parent's but what this child needs stays
		 * open while it waits; a copy of another box's channel end held here
		 * would hide that box's parent's death from it (no EOF). */
		int from = 0;
		for (int i = 0; i < p->nopen; i++) {
			if (p->open[i] > from)
				syscall(SYS_close_range, (unsigned)from, (unsigned)p->open[i] - 1, 0);
			if (p->open[i] >= from)
				from = p->open[i] + 1;
		}
		syscall(SYS_close_range, (unsigned)from, ~0U, 0);
	} else if (p->peer >= 0) {
		close(p->peer);
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL/SIGSTOP and reserved ones */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (p->hold) {
		/* The parent's go: the go byte on our own channel, taken; on the
		 * caller's, its first message, only looked at (the caller's code reads
		 * and checks it). EOF: the parent is gone (its death closed its end;
		 * under CLONE_NEWPID getppid() says 0 whatever happened): leave. */
		char go;
		ssize_t r;
		do
			r = recv(p->chan, &go, 1, p->own ? 0 : MSG_PEEK);
		while (r < 0 && errno == EINTR);
		if (r != 1)
			_exit(127);
	}
	if (p->root) {
		/* The maps are written: be root of the new user namespace, so that what
		 * the child makes is root's inside and an exec keeps its capabilities
		 * (a host id the maps lack would lose them both), and drop the
		 * caller's supplementary groups (host groups: adm, sudo...) where
		 * setgroups is allowed; where it is denied the kernel keeps them. An
		 * id 0 the maps do not hold stays as it was. A change of ids clears
		 * the parent-death signal and resets dumpable (to fs.suid_dumpable):
		 * set the one again, and never leave the child more dumpable than it was. */
		int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		/* Raw system calls: glibc's would signal every thread it believes
		 * this process has, the caller's, and wait for them forever. */
		int failed = syscall(SYS_setresgid, 0, 0, 0) < 0;
		failed |= syscall(SYS_setgroups, 0, NULL) < 0;
		failed |= syscall(SYS_setresuid, 0, 0, 0) < 0;
		(void)failed; /* EINVAL (an id 0 the maps lack), EPERM (setgroups denied): that one stays */
		if (p->pdeathsig)
			prctl(PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0);
		if (dumpable == 0)
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (!p->path) {
		if (p->own)
			close(p->chan);
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
	for (int i = 0; i < p->nrlimits; i++)
		if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].rl) < 0)
			goto fail;
	for (int i = 0; i < p->nfilters; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->filters[i]) < 0)
			goto fail;
	if (p->exec_fd >= 0)
		syscall(SYS_execveat, p->exec_fd, "", p->argv, p->envp, AT_EMPTY_PATH);
	else
		execve(p->path, p->argv, p->envp);
fail:;
	int e = errno;
	if (!p->own)
		report_exec_failed(p->chan, e);
	else if (write(p->chan, &e, sizeof e) < 0)
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

/* The seccomp programs of field "seccomp" (a list of strings of struct
 * sock_filter, nsbox.seccomp's), anchored on the stack like str_array's. */
static struct sock_fprog *filter_array(lua_State *L, int t, int *n)
{
	*n = 0;
	if (lua_getfield(L, t, "seccomp") == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	lua_Integer len = luaL_len(L, -1);
	luaL_argcheck(L, len >= 0 && len <= 16, 1, "seccomp: at most 16 programs");
	struct sock_fprog *v = lua_newuserdatauv(L, (size_t)(len + 1) * sizeof *v, 0);
	for (lua_Integer i = 1; i <= len; i++) {
		size_t bytes;
		/* a string only: lua_tolstring would convert a number on a stack copy that is popped */
		const char *prog = lua_geti(L, -2, i) == LUA_TSTRING ? lua_tolstring(L, -1, &bytes) : NULL;
		if (!prog || bytes == 0 || bytes % sizeof(struct sock_filter) || bytes / sizeof(struct sock_filter) > BPF_MAXINSNS)
			luaL_error(L, "field 'seccomp'[%d]: a BPF program expected", (int)i);
		v[i - 1].len = (unsigned short)(bytes / sizeof(struct sock_filter));
		v[i - 1].filter = (struct sock_filter *)(uintptr_t)prog; /* the string stays in the caller's table */
		lua_pop(L, 1);
	}
	lua_remove(L, -2);
	*n = (int)len;
	return v;
}

/* Field "rlimits": a list of { resource =, soft =, hard = } (-1: unlimited), as
 * nsbox.resources makes them. */
static struct spawn_rlimit *rlimit_array(lua_State *L, int t, int *n)
{
	*n = 0;
	if (lua_getfield(L, t, "rlimits") == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	luaL_checktype(L, -1, LUA_TTABLE);
	lua_Integer len = luaL_len(L, -1);
	luaL_argcheck(L, len >= 0 && len <= 64, 1, "rlimits: at most 64");
	struct spawn_rlimit *v = lua_newuserdatauv(L, (size_t)(len + 1) * sizeof *v, 0);
	for (lua_Integer i = 1; i <= len; i++) {
		if (lua_geti(L, -2, i) != LUA_TTABLE)
			luaL_error(L, "field 'rlimits'[%d]: table expected", (int)i);
		int e = lua_gettop(L);
		lua_Integer res = nsbox_opt_int_field(L, e, "resource", -1);
		lua_Integer soft = nsbox_opt_int_field(L, e, "soft", -1), hard = nsbox_opt_int_field(L, e, "hard", -1);
		if (res < 0 || res >= RLIM_NLIMITS || soft < -1 || hard < -1)
			luaL_error(L, "field 'rlimits'[%d]: resource, soft and hard expected", (int)i);
		v[i - 1].resource = (int)res;
		v[i - 1].rl.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
		v[i - 1].rl.rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
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

static int cmp_fd(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* close_fds: the sorted fds the child keeps (0-2, its channel, stdio sources,
 * keep_fds, the exec fd), prepared here since the child may not allocate. */
static void open_set(lua_State *L, struct spawn_plan *p)
{
	int n = 0, *v = lua_newuserdatauv(L, (size_t)(p->nkeep + 8) * sizeof *v, 0);
	for (int i = 0; i < 3; i++) {
		v[n++] = i;
		if (p->stdio[i] >= 0)
			v[n++] = p->stdio[i];
	}
	if (p->chan >= 0)
		v[n++] = p->chan;
	if (p->exec_fd >= 0)
		v[n++] = p->exec_fd;
	for (int i = 0; i < p->nkeep; i++)
		v[n++] = p->keep[i];
	qsort(v, (size_t)n, sizeof *v, cmp_fd);
	p->open = v;
	p->nopen = n;
}

/***
 * Start a process with clone3, optionally in new namespaces, and exec it.
 * The child resets signals and sets its parent-death signal; then, before it
 * calls execve, it waits for the parent's go.
 *
 * Without `channel`, spawn makes a channel of its own for that: it runs
 * `setup(pid)` here, in the parent (where the parent writes the id maps), then
 * says go, and returns once the exec succeeded or failed.
 *
 * With `channel` (the child's end of a Unix socketpair the caller made;
 * `peer`: the caller's end, closed in the child) that channel is the only one:
 * with `hold = true` the child waits for the first message the caller sends on
 * it (and leaves it unread, for the caller's code in the child), and spawn
 * returns at once (after `setup`, if given). A failed exec is then reported on
 * the channel as the message "exec_failed <errno>" (see nsbox.channel). Either
 * way, EOF while the child waits means the parent is gone: the child exits 127.
 *
 * With `fork = true` (and no `path`) there is no exec: the child returns 0
 * from spawn once the parent said go and goes on running this Lua state, as
 * after fork(2). That is only safe in a single-threaded process, so spawn
 * refuses (EBUSY, nothing started) when this process has other threads; the
 * caller then re-executes instead. The child must leave with `_exit` or an exec.
 *
 * With `fd`, that fd is exec'd (execveat AT_EMPTY_PATH: the sealed nsbox-init of
 * `init_stub`), `path` only names it in messages. With `close_fds = true` the
 * child closes every fd but 0-2, its channel, the stdio fds, `keep_fds` and
 * `fd` at once, before it waits for the go (forked or not). With `pdeathsig`,
 * a child whose parent died before it set the signal leaves at once (127).
 * @function spawn
 * @tparam table spec `path`, `argv`, `env` (array of "K=V"; default: this
 *   process's environment), `flags` (CLONE_NEW* bits), `pdeathsig`,
 *   `keep_fds` (fds passed across exec), `stdin`/`stdout`/`stderr` (fds to
 *   become 0, 1, 2), `setsid`, `setup` (function(pid) returning true or nil,
 *   message), `fork`, `channel`, `peer`, `hold`, `fd`, `close_fds`, `root` (after the go, become
 *   uid and gid 0 of the new user namespace, those the maps hold, without
 *   supplementary groups where setgroups is allowed; the parent-death signal
 *   is set again), `cgroup` (a cgroup v2 directory fd: the child is born in
 *   it, CLONE_INTO_CGROUP), `seccomp` (a list of BPF programs as strings:
 *   loaded in this order right before the exec, so nothing but the exec
 *   runs under them), `rlimits` (a list of { resource =, soft =, hard = },
 *   -1 unlimited: set right before them)
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
	p.filters = filter_array(L, 1, &p.nfilters);
	p.rlimits = rlimit_array(L, 1, &p.nrlimits);
	luaL_argcheck(L, !p.filters || !forked, 1, "seccomp: not with fork");
	lua_Integer exec_fd = nsbox_opt_int_field(L, 1, "fd", -1);
	luaL_argcheck(L, exec_fd >= -1 && exec_fd <= 0x7fffffff && (exec_fd < 0 || !forked), 1,
		      "fd: file descriptor expected, not with fork");
	p.exec_fd = (int)exec_fd;
	p.parent = -1;
	p.pdeathsig = (int)nsbox_opt_int_field(L, 1, "pdeathsig", 0);
	p.setsid = nsbox_opt_bool_field(L, 1, "setsid", 0);
	p.root = nsbox_opt_bool_field(L, 1, "root", 0);
	static const char *const stdio[3] = { "stdin", "stdout", "stderr" };
	for (int i = 0; i < 3; i++) {
		lua_Integer fd = nsbox_opt_int_field(L, 1, stdio[i], -1);
		luaL_argcheck(L, fd >= -1 && fd <= 0x7fffffff, 1, "stdio: file descriptor expected");
		p.stdio[i] = (int)fd;
	}
	lua_Integer chan = nsbox_opt_int_field(L, 1, "channel", -1);
	lua_Integer peer = nsbox_opt_int_field(L, 1, "peer", -1);
	luaL_argcheck(L, chan >= -1 && chan <= 0x7fffffff, 1, "channel: file descriptor expected");
	luaL_argcheck(L, peer >= -1 && peer <= 0x7fffffff && (peer < 0 || chan >= 0), 1,
		      "peer: file descriptor expected, with a channel");
	p.own = chan < 0;
	p.hold = p.own || nsbox_opt_bool_field(L, 1, "hold", 0);
	int close_fds = nsbox_opt_bool_field(L, 1, "close_fds", 0);
	uint64_t flags = (uint64_t)nsbox_opt_int_field(L, 1, "flags", 0);
	lua_Integer cgroup = nsbox_opt_int_field(L, 1, "cgroup", -1);
	luaL_argcheck(L, cgroup >= -1 && cgroup <= 0x7fffffff, 1, "cgroup: file descriptor expected");
	lua_getfield(L, 1, "setup");
	int setup = lua_gettop(L);
	if (!lua_isnil(L, setup))
		luaL_checktype(L, setup, LUA_TFUNCTION);

	long threads = forked ? thread_count() : 1;
	if (threads < 0)
		return nsbox_fail(L, errno, "fork: counting this process's threads (/proc/self/task)");
	if (threads != 1)
		return nsbox_fail(L, EBUSY, "fork: this process has %ld threads", threads);

	if (p.own) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return nsbox_fail(L, errno, "socketpair");
		p.peer = sv[0];
		p.chan = sv[1];
	} else {
		p.chan = (int)chan;
		p.peer = (int)peer;
	}
	if (close_fds)
		open_set(L, &p);
	if (p.pdeathsig)
		p.parent = (int)syscall(SYS_pidfd_open, getpid(), 0); /* -1: the check is skipped */

	int pidfd = -1;
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = flags | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (cgroup >= 0) {
		/* born in the cgroup: it never runs a moment outside its limits */
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)cgroup;
	}
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		spawn_child(&p);
		/* A copy of the caller's state: no finalizer of its objects may run
		 * here (a dropped box's __gc would kill a sibling container). */
		lua_gc(L, LUA_GCSTOP);
		lua_pushinteger(L, 0);
		return 1;
	}
	if (p.parent >= 0)
		close_keep_errno(p.parent);
	if (p.own)
		close_keep_errno(p.chan);
	if (pid < 0) {
		if (p.own)
			close_keep_errno(p.peer);
		return nsbox_fail(L, errno, "clone3(%s)", p.path ? p.path : "fork");
	}

	if (!lua_isnil(L, setup)) {
		lua_pushvalue(L, setup);
		lua_pushinteger(L, pid);
		int bad = lua_pcall(L, 1, 2, 0);
		if (bad || !lua_toboolean(L, -2)) {
			abandon(pid, pidfd);
			if (p.own)
				close(p.peer);
			const char *msg = bad ? lua_tostring(L, -1) : luaL_optstring(L, -1, "setup failed");
			return nsbox_fail_msg(L, EINVAL, "%s", msg ? msg : "setup failed");
		}
		lua_pop(L, 2);
	}

	if (p.own) {
		int err = 0;
		char go = 1;
		if (write(p.peer, &go, 1) != 1) {
			err = errno;
		} else if (!forked) {
			ssize_t r;
			do
				r = read(p.peer, &err, sizeof err);
			while (r < 0 && errno == EINTR);
			if (r < 0)
				err = errno;
		}
		close(p.peer);
		if (err) {
			abandon(pid, pidfd);
			return nsbox_fail(L, err, forked ? "fork: go" : "execve(%s)", p.path);
		}
	}
	lua_pushinteger(L, pid);
	lua_pushinteger(L, pidfd);
	return 2;
}

/* argv (arg 2) and env (arg 3, default: this process's environment) of an exec. */
static char **exec_arrays(lua_State *L, char ***envp)
{
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 3);
	lua_newtable(L);
	lua_pushvalue(L, 2);
	lua_setfield(L, 4, "argv");
	lua_pushvalue(L, 3);
	lua_setfield(L, 4, "env");
	char **argv = str_array(L, 4, "argv", 1);
	*envp = str_array(L, 4, "env", 0);
	if (!*envp)
		*envp = environ;
	return argv;
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
	char **envp, **argv = exec_arrays(L, &envp);
	execve(path, argv, envp);
	return nsbox_fail(L, errno, "execve(%s)", path);
}

/***
 * execveat(2) of an fd (AT_EMPTY_PATH): replace this process with the program
 * the fd holds (the sealed nsbox-init of `init_stub`). Returns only on failure.
 * @function fexecve
 * @tparam integer fd
 * @tparam table argv
 * @tparam[opt] table env array of "K=V"; default: this process's environment
 */
static int l_fexecve(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	char **envp, **argv = exec_arrays(L, &envp);
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	return nsbox_fail(L, errno, "execveat(fd %d)", fd);
}

/***
 * The sealed memfd holding nsbox-init, the container side's exec stub and
 * PID 1 (csrc/init/nsbox-init.c): made once per process, close-on-exec, never
 * writable. Exec it with `fexecve` or spawn's `fd`.
 * @function init_stub
 * @treturn integer fd
 */
static int l_init_stub(lua_State *L)
{
	int fd = nsbox_stub_fd();
	if (fd < 0)
		return nsbox_fail(L, errno, "memfd_create(nsbox-init)");
	lua_pushinteger(L, fd);
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

/***
 * _exit(2): leave at once, without running Lua's finalizers.
 * @function _exit
 * @tparam integer code
 */
static int l__exit(lua_State *L)
{
	_exit((int)luaL_optinteger(L, 1, 0));
}

void nsbox_open_spawn(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "spawn", l_spawn }, { "execve", l_execve }, { "fexecve", l_fexecve }, { "init_stub", l_init_stub },
		{ "setsid", l_setsid }, { "_exit", l__exit },
		{ NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
