/* File descriptors: pipes and socketpairs, read and write, fds passed over a
 * Unix socket (SCM_RIGHTS), dup2, close, close_range, close-on-exec, poll. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* At most this many fds in one message: a pty master, a few mount fds. */
#define MAX_FDS 16

/* Append the fds of the SCM_RIGHTS messages in m to the table at index t. */
static void take_fds(lua_State *L, int t, struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const int *fds = (const int *)(const void *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			lua_pushinteger(L, fds[i]);
			lua_rawseti(L, t, luaL_len(L, t) + 1);
		}
	}
}

/* Push exactly n bytes read from fd (fewer only at end of file); with fds
 * (a table's index, else 0) through recvmsg, the fds received appended to that
 * table, close-on-exec. Returns 0 or an errno (then the fds received are closed). */
static int read_exact(lua_State *L, int fd, lua_Integer n, int fds)
{
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)n);
	size_t got = 0;
	int err = 0;
	while (got < (size_t)n && !err) {
		ssize_t r;
		if (fds) {
			union {
				char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
				struct cmsghdr align;
			} u;
			struct iovec iov = { .iov_base = p + got, .iov_len = (size_t)n - got };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
					    .msg_controllen = sizeof u.buf };
			r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
			if (r >= 0)
				take_fds(L, fds, &m);
			if (r >= 0 && (m.msg_flags & MSG_CTRUNC))
				err = EMSGSIZE; /* more fds than MAX_FDS: the rest are lost */
		} else {
			r = read(fd, p + got, (size_t)n - got);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = errno;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (err && fds) {
		for (lua_Integer i = 1; lua_rawgeti(L, fds, i) == LUA_TNUMBER; i++, lua_pop(L, 1))
			close((int)lua_tointeger(L, -1));
		lua_pop(L, 1);
	}
	luaL_pushresultsize(&b, got);
	return err;
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
	int err = read_exact(L, fd, n, 0);
	if (err)
		return nsbox_fail(L, err, "read(fd %d)", fd);
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

/* Write all of s: send(2) on a socket (MSG_NOSIGNAL: a peer gone is EPIPE,
 * not a SIGPIPE), write(2) on anything else. Returns 0 or an errno. */
static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t r = send(fd, s, len, MSG_NOSIGNAL);
		if (r < 0 && errno == ENOTSOCK)
			r = write(fd, s, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		s += r;
		len -= (size_t)r;
	}
	return 0;
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
	int err = write_all(fd, s, len);
	if (err)
		return nsbox_fail(L, err, "write(fd %d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Write all of a string on a Unix socket with file descriptors attached to
 * its first byte (SCM_RIGHTS): the receiver gets copies of them from `recv_fds`.
 * @function send_fds
 * @tparam integer fd a Unix socket
 * @tparam string data at least one byte (the fds travel with it)
 * @tparam table fds 1 to 16 fds
 */
static int l_send_fds(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	luaL_argcheck(L, len > 0, 2, "at least one byte expected");
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 3);
	luaL_argcheck(L, n >= 1 && n <= MAX_FDS, 3, "1 to 16 fds expected");
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = { .iov_base = (void *)s, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	int *fds = (int *)(void *)CMSG_DATA(c);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 3, i);
		fds[i - 1] = nsbox_check_fd(L, -1);
		lua_pop(L, 1);
	}
	ssize_t r;
	do
		r = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	int err = r < 0 ? errno : write_all(fd, s + r, len - (size_t)r);
	if (err)
		return nsbox_fail(L, err, "sendmsg(fd %d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Read exactly n bytes from a Unix socket (fewer only at end of file) and the
 * fds sent with them (`send_fds`), received close-on-exec.
 * @function recv_fds
 * @tparam integer fd a Unix socket
 * @tparam integer n
 * @treturn string the bytes ("" at end of file)
 * @treturn table the fds received (often none)
 */
static int l_recv_fds(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_argcheck(L, n >= 0 && n <= (1 << 30), 2, "size out of range");
	lua_settop(L, 2);
	lua_newtable(L);
	int err = read_exact(L, fd, n, 3);
	if (err)
		return nsbox_fail(L, err, "recvmsg(fd %d)", fd);
	lua_insert(L, 3);
	return 2;
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
 * Wait until one of the fds is readable or hung up (poll(2)), at most timeout ms.
 * @function ready
 * @tparam table fds a list of fds
 * @tparam[opt=-1] integer timeout ms (-1: no limit)
 * @treturn table the positions in fds of those ready, as keys (empty at the timeout)
 */
static int l_ready(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer t = luaL_optinteger(L, 2, -1);
	luaL_argcheck(L, t >= -1 && t <= INT_MAX, 2, "a timeout in ms, or -1 for none, expected");
	int timeout = (int)t;
	struct pollfd p[8];
	nfds_t n = 0;
	while (lua_rawgeti(L, 1, (lua_Integer)n + 1) != LUA_TNIL) {
		luaL_argcheck(L, n < 8, 1, "8 fds at most");
		p[n].fd = nsbox_check_fd(L, -1);
		p[n++].events = POLLIN;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	int r;
	do
		r = poll(p, n, timeout);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return nsbox_fail(L, errno, "poll");
	lua_createtable(L, 0, r);
	for (nfds_t i = 0; i < n; i++) {
		if (p[i].revents) {
			lua_pushboolean(L, 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	}
	return 1;
}

void nsbox_open_fdio(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "socketpair", l_socketpair }, { "pipe", l_pipe }, { "dup2", l_dup2 }, { "read", l_read },
		{ "read_all", l_read_all }, { "write", l_write }, { "send_fds", l_send_fds },
		{ "recv_fds", l_recv_fds }, { "close", l_close }, { "close_range", l_close_range },
		{ "cloexec", l_cloexec }, { "ready", l_ready }, { NULL, NULL }
	};
	static const struct nsbox_const consts[] = { { "CLOSE_RANGE_CLOEXEC", CLOSE_RANGE_CLOEXEC }, { NULL, 0 } };
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
