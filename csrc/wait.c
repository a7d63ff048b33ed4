/* Waiting for processes: pidfd wait and poll with signal forwarding, the reap
 * loop of a tiny init, pidfd kill and open, and the signal numbers. */
#include "common.h"
#include "init/signals.h"
#include "relay.h"

/*** @module nsbox.core */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

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

/* The signal numbers listed in the table at arg (none if it is nil). */
static void signal_set(lua_State *L, int arg, sigset_t *set)
{
	sigemptyset(set);
	if (lua_isnoneornil(L, arg))
		return;
	luaL_checktype(L, arg, LUA_TTABLE);
	lua_Integer n = luaL_len(L, arg);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, arg, i);
		sigaddset(set, (int)luaL_checkinteger(L, -1));
		lua_pop(L, 1);
	}
}

/* Block the signals of set and return a signalfd for them, or -1 with errno
 * set and the mask as it was. */
static int forward_fd(const sigset_t *set, sigset_t *old)
{
	if (sigprocmask(SIG_BLOCK, set, old) < 0)
		return -1;
	int fd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, old, NULL);
		errno = e;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A signal that asks the process to end: its forwarding starts the kill_after clock. */
static int ends(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

/***
 * Wait for the process behind a pidfd to end, forwarding the listed signals to it meanwhile.
 * The signals are blocked only for the duration of the wait. If they cannot be
 * caught (no signalfd: e.g. no fd left), nothing is waited for: the error comes back.
 * opts: `relay`, the flows of bytes moved meanwhile (`{ from =, to =, out =, own =,
 * veof = }`, up to 4, and `winch = { from, to }`: on SIGWINCH the size of from's
 * terminal is set on to's), see csrc/relay.h; when the caller's end of an out flow is gone
 * (EPIPE: `nsbox run -t ... | head -1`), the process gets SIGHUP, as from a terminal that closed; `kill_after` (ms): SIGKILL once that
 * long has passed since a forwarded SIGINT, SIGTERM, SIGHUP or SIGQUIT (the third
 * result is then true); `watch`: the process is not ours to reap (its end, an out flow's end
 * or the detach keys on a `detach` flow, or a signal of forward, return "ended", "closed",
 * "detached" or "signalled" alone);
 * `kill_in` (ms): SIGKILL once that long has passed from now
 * (a stop: the signal asking it to end was sent already); `timeout` (ms): give up then (false, "timeout": still running).
 * @function wait
 * @tparam integer pidfd
 * @tparam[opt] table forward signal numbers to forward
 * @tparam[opt] table opts relay, kill_after, kill_in, timeout, watch
 * @treturn string "exited", "killed" or "dumped"
 * @treturn integer exit code or signal number
 * @treturn[opt] boolean true if it was killed when kill_after or kill_in passed (else nothing)
 */
static int l_wait(lua_State *L)
{
	int pidfd = nsbox_check_fd(L, 1);
	int with_opts = lua_istable(L, 3);
	int forwarding = !lua_isnoneornil(L, 2) || with_opts;
	sigset_t set, old;
	signal_set(L, 2, &set);
	struct relay r;
	if (with_opts)
		lua_getfield(L, 3, "relay");
	else
		lua_pushnil(L);
	relay_parse(L, lua_gettop(L), &r);
	long long kill_after = with_opts ? nsbox_opt_int_field(L, 3, "kill_after", -1) : -1;
	long long timeout = with_opts ? nsbox_opt_int_field(L, 3, "timeout", -1) : -1;
	long long kill_in = with_opts ? nsbox_opt_int_field(L, 3, "kill_in", -1) : -1;
	int watch = with_opts ? nsbox_opt_bool_field(L, 3, "watch", 0) : 0;
	const char *how = NULL; /* watch: why it returned */
	if (r.winch_from >= 0)
		sigaddset(&set, SIGWINCH);
	/* a relay's reader gone (a pipe, `| head`) is EPIPE for that flow, never our death */
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldpipe;
	if (r.n > 0)
		sigaction(SIGPIPE, &ign, &oldpipe);
	int sfd = -1;
	if (forwarding && (sfd = forward_fd(&set, &old)) < 0) {
		int e = errno;
		relay_end(&r, 0); /* the fds it owns are closed all the same */
		if (r.n > 0)
			sigaction(SIGPIPE, &oldpipe, NULL);
		return nsbox_fail(L, e, "signalfd");
	}
	long long deadline = kill_in >= 0 ? now_ms() + kill_in : -1, give_up = timeout >= 0 ? now_ms() + timeout : -1;
	int stopped = 0, timed_out = 0, hung_up = 0;
	siginfo_t si;
	int err = 0;
	for (;;) {
		if (sfd >= 0) {
			struct pollfd pf[2 + RELAY_FDS] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
			int n = 2;
			relay_poll(&r, pf, &n);
			long long t = -1, now = now_ms();
			if (deadline >= 0)
				t = deadline > now ? deadline - now : 0;
			if (give_up >= 0 && (t < 0 || give_up - now < t))
				t = give_up > now ? give_up - now : 0;
			int got = poll(pf, (nfds_t)n, (int)t);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				err = errno;
				break;
			}
			struct signalfd_siginfo ss;
			while (read(sfd, &ss, sizeof ss) == (ssize_t)sizeof ss) {
				if ((int)ss.ssi_signo == SIGWINCH && r.winch_from >= 0) {
					relay_winch(&r);
					continue;
				}
				if (watch) { /* not ours to signal: the signal ends the wait */
					how = "signalled";
					continue;
				}
				syscall(SYS_pidfd_send_signal, pidfd, (int)ss.ssi_signo, NULL, 0);
				if (kill_after >= 0 && deadline < 0 && ends((int)ss.ssi_signo))
					deadline = now_ms() + kill_after;
			}
			relay_move(&r, pf);
			if (r.hangup && !hung_up && !watch) { /* its output has no reader: as a terminal closed */
				hung_up = 1;
				syscall(SYS_pidfd_send_signal, pidfd, SIGHUP, NULL, 0);
				if (kill_after >= 0 && deadline < 0)
					deadline = now_ms() + kill_after;
			}
			if (how || r.detached || (watch && relay_closed(&r)) || (watch && (pf[0].revents & POLLIN))) {
				how = how ? how : r.detached ? "detached" : (pf[0].revents & POLLIN) ? "ended" : "closed";
				break;
			}
			if (!(pf[0].revents & POLLIN)) {
				now = now_ms();
				if (deadline >= 0 && now >= deadline && !stopped) {
					stopped = 1;
					syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
				}
				if (give_up >= 0 && now >= give_up) {
					timed_out = 1;
					break;
				}
				continue;
			}
		}
		memset(&si, 0, sizeof si);
		if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) == 0)
			break;
		if (errno != EINTR) {
			err = errno;
			break;
		}
	}
	if (!timed_out)
		relay_end(&r, !r.detached);
	if (r.n > 0)
		sigaction(SIGPIPE, &oldpipe, NULL);
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (err)
		return nsbox_fail(L, err, "waitid(pidfd %d)", pidfd);
	if (timed_out) {
		lua_pushboolean(L, 0);
		lua_pushliteral(L, "timeout");
		return 2;
	}
	if (how) {
		lua_pushstring(L, how);
		return 1;
	}
	push_status(L, &si);
	if (!stopped)
		return 2;
	lua_pushboolean(L, 1);
	return 3;
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
	luaL_checktype(L, 1, LUA_TTABLE);
	signal_set(L, 1, &set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return nsbox_fail(L, errno, "sigprocmask");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * The loop of a tiny init (PID 1): wait for pid while reaping every other child
 * that ends (orphans re-parented to us), forwarding the listed signals to pid.
 * The table is only read.
 * @function reap
 * @tparam integer pid the main child
 * @tparam[opt] table forward signal numbers
 * @treturn string "exited", "killed" or "dumped"
 * @treturn integer exit code or signal number
 */
static int l_reap(lua_State *L)
{
	pid_t main_pid = (pid_t)luaL_checkinteger(L, 1);
	sigset_t set, old;
	signal_set(L, 2, &set);
	sigaddset(&set, SIGCHLD); /* the wake-up for the reaping */
	int sfd = forward_fd(&set, &old);
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
 * Wait, at most timeout ms, for the process behind a pidfd to end, without
 * reaping it (any process may: a pidfd is readable once its process has ended).
 * @function pidfd_ended
 * @tparam integer pidfd
 * @tparam[opt=0] integer timeout ms (-1: no limit)
 * @treturn boolean whether it has ended
 */
static int l_pidfd_ended(lua_State *L)
{
	struct pollfd pf = { .fd = nsbox_check_fd(L, 1), .events = POLLIN };
	int timeout = (int)luaL_optinteger(L, 2, 0), r;
	while ((r = poll(&pf, 1, timeout)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return nsbox_fail(L, errno, "poll(pidfd %d)", pf.fd);
	lua_pushboolean(L, r > 0);
	return 1;
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

void nsbox_open_wait(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "wait", l_wait }, { "reap", l_reap }, { "sigblock", l_sigblock }, { "poll", l_poll },
		{ "kill", l_kill }, { "pidfd_open", l_pidfd_open }, { "pidfd_ended", l_pidfd_ended }, { NULL, NULL }
	};
	static const struct nsbox_const consts[] = {
		{ "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT }, { "SIGKILL", SIGKILL },
		{ "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 }, { "SIGTERM", SIGTERM }, { "SIGCHLD", SIGCHLD },
		{ "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP }, { "SIGPIPE", SIGPIPE }, { "SIGWINCH", SIGWINCH },
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
	/* INIT_SIGNALS: what nsbox-init takes, to block before its exec (init/signals.h) */
	lua_newtable(L);
	for (int sig = 1, i = 0; sig <= 64; sig++)
		if (NSBOX_INIT_SIGNALS & NSBOX_SIGBIT(sig)) {
			lua_pushinteger(L, sig);
			lua_rawseti(L, -2, ++i);
		}
	lua_setfield(L, -2, "INIT_SIGNALS");
}
