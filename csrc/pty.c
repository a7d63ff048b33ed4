/* Terminals: a pty pair from a devpts instance's ptmx (reached through an fd
 * of that instance, never by a path the container could swap), the caller's
 * terminal put in raw mode and restored, window sizes. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

/***
 * A new pty pair from the devpts instance whose root is the fd dir: its ptmx
 * opened below that fd (no symlink, no other mount), unlocked, and the
 * slave opened from the master itself (TIOCGPTPEER: no path lookup at all).
 * Neither becomes a controlling terminal here. The master is checked to be one.
 * @function openpty
 * @tparam integer dir an fd of a devpts mount's root (or of a directory holding ptmx)
 * @treturn integer master fd (close-on-exec)
 * @treturn integer slave fd (close-on-exec)
 * @treturn integer the slave's number (/dev/pts/N)
 */
static int l_openpty(lua_State *L)
{
	int dir = nsbox_check_fd(L, 1);
	int m = nsbox_open2(dir, "ptmx", O_RDWR | O_NOCTTY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
	if (m < 0)
		return nsbox_fail(L, errno, "open(ptmx)");
	int n, unlock = 0;
	if (ioctl(m, TIOCGPTN, &n) < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0) {
		int e = errno;
		close(m);
		return nsbox_fail(L, e, "ptmx: not a pty master");
	}
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int e = errno;
		close(m);
		return nsbox_fail(L, e, "ioctl(TIOCGPTPEER)");
	}
	lua_pushinteger(L, m);
	lua_pushinteger(L, s);
	lua_pushinteger(L, n);
	return 3;
}

/***
 * Whether fd is a terminal.
 * @function isatty
 * @tparam integer fd
 * @treturn boolean
 */
static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty(nsbox_check_fd(L, 1)));
	return 1;
}

/***
 * Whether fd is a pty master of a devpts instance (what a container sends as
 * one must be: not a file of its own, a FUSE one, that answers the ioctl).
 * @function is_pty_master
 * @tparam integer fd
 * @treturn boolean
 */
static int l_is_pty_master(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1), n;
	struct statfs sf;
	lua_pushboolean(L, fstatfs(fd, &sf) == 0 && sf.f_type == DEVPTS_SUPER_MAGIC && ioctl(fd, TIOCGPTN, &n) == 0);
	return 1;
}

/***
 * Put the terminal on fd in raw mode (as cfmakeraw; output processing kept
 * off too, the container's pty does its own), returning its modes as they
 * were, to give back to `tty_restore`.
 * @function tty_raw
 * @tparam integer fd
 * @treturn string the saved modes
 */
static int l_tty_raw(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	struct termios t, raw;
	if (tcgetattr(fd, &t) < 0)
		return nsbox_fail(L, errno, "tcgetattr(%d)", fd);
	raw = t;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return nsbox_fail(L, errno, "tcsetattr(%d)", fd);
	lua_pushlstring(L, (const char *)&t, sizeof t);
	return 1;
}

/***
 * The terminal modes of fd as they are (to compare, or give to `tty_restore`).
 * @function tty_modes
 * @tparam integer fd
 * @treturn string
 */
static int l_tty_modes(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	struct termios t;
	if (tcgetattr(fd, &t) < 0)
		return nsbox_fail(L, errno, "tcgetattr(%d)", fd);
	lua_pushlstring(L, (const char *)&t, sizeof t);
	return 1;
}

/***
 * Give a terminal back the modes `tty_raw` saved.
 * @function tty_restore
 * @tparam integer fd
 * @tparam string saved
 */
static int l_tty_restore(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	size_t n;
	const char *s = luaL_checklstring(L, 2, &n);
	struct termios t;
	luaL_argcheck(L, n == sizeof t, 2, "not saved terminal modes");
	memcpy(&t, s, sizeof t);
	if (tcsetattr(fd, TCSADRAIN, &t) < 0)
		return nsbox_fail(L, errno, "tcsetattr(%d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * The window size of the terminal on fd.
 * @function winsize
 * @tparam integer fd
 * @treturn integer rows
 * @treturn integer columns
 */
static int l_winsize(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	struct winsize w;
	if (ioctl(fd, TIOCGWINSZ, &w) < 0)
		return nsbox_fail(L, errno, "ioctl(TIOCGWINSZ)");
	lua_pushinteger(L, w.ws_row);
	lua_pushinteger(L, w.ws_col);
	return 2;
}

/***
 * Set the window size of the terminal on fd (a pty's master or slave: its
 * foreground process group gets SIGWINCH).
 * @function set_winsize
 * @tparam integer fd
 * @tparam integer rows
 * @tparam integer columns
 */
static int l_set_winsize(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	struct winsize w = { .ws_row = (unsigned short)luaL_checkinteger(L, 2),
			     .ws_col = (unsigned short)luaL_checkinteger(L, 3) };
	if (ioctl(fd, TIOCSWINSZ, &w) < 0)
		return nsbox_fail(L, errno, "ioctl(TIOCSWINSZ)");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * One read of what fd has, waiting at most timeout ms for something (a pty
 * master driven by a script: its reads return what the program wrote so far).
 * @function read_some
 * @tparam integer fd
 * @tparam integer max bytes at most
 * @tparam[opt=-1] integer timeout ms (-1: no limit)
 * @treturn string|nil what was read ("" at the timeout); nil at EOF (EIO: a pty without its other side)
 */
static int l_read_some(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	lua_Integer max = luaL_checkinteger(L, 2);
	int timeout = (int)luaL_optinteger(L, 3, -1);
	luaL_argcheck(L, max > 0 && max <= 1 << 20, 2, "size out of range");
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int r;
	while ((r = poll(&pf, 1, timeout)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return nsbox_fail(L, errno, "poll(fd %d)", fd);
	if (r == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, (size_t)max);
	ssize_t got;
	while ((got = read(fd, p, (size_t)max)) < 0 && errno == EINTR)
		;
	if (got < 0 && errno == EAGAIN)
		got = 0;
	else if (got < 0 && errno != EIO)
		return nsbox_fail(L, errno, "read(fd %d)", fd);
	else if (got <= 0) {
		lua_pushnil(L);
		return 1;
	}
	luaL_pushresultsize(&b, (size_t)got);
	return 1;
}

void nsbox_open_pty(lua_State *L)
{
	static const luaL_Reg fns[] = { { "openpty", l_openpty }, { "isatty", l_isatty },
					{ "is_pty_master", l_is_pty_master }, { "tty_raw", l_tty_raw },
					{ "tty_restore", l_tty_restore }, { "winsize", l_winsize },
					{ "set_winsize", l_set_winsize }, { "read_some", l_read_some },
					{ "tty_modes", l_tty_modes }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
