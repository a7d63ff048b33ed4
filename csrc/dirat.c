/* Calls relative to a directory fd (openat, mkdirat, linkat, renameat, unlinkat)
 * and on fds (fstat, fchmod, flock): the state directory is checked once, on its
 * fd, and every entry is then reached through that fd, never by a path someone
 * could swap for a symlink between the check and the use. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory fd argument; nil is the current directory (AT_FDCWD). */
static int check_dirfd(lua_State *L, int arg)
{
	return lua_isnoneornil(L, arg) ? AT_FDCWD : nsbox_check_fd(L, arg);
}

/***
 * openat(2), never following a symlink in the last part of path; close-on-exec.
 * how: "dir" (O_RDONLY | O_DIRECTORY), "read" (O_RDONLY | O_NONBLOCK: a fifo
 * never blocks the open), "new" (O_WRONLY | O_CREAT | O_EXCL, with mode) or
 * "write" (O_WRONLY | O_TRUNC: an existing file rewritten), "append" (O_WRONLY | O_CREAT | O_APPEND:
 * a log, made if missing).
 * @function openat
 * @tparam integer|nil dirfd nil: the current directory
 * @tparam string path
 * @tparam string how
 * @tparam[opt=0600] integer mode for "new" (the umask applies: fchmod after)
 * @treturn integer fd
 */
static int l_openat(lua_State *L)
{
	int dirfd = check_dirfd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	static const char *const hows[] = { "dir", "read", "new", "write", "append", NULL };
	static const int flags[] = { O_RDONLY | O_DIRECTORY, O_RDONLY | O_NONBLOCK, O_WRONLY | O_CREAT | O_EXCL,
				     O_WRONLY | O_TRUNC, O_WRONLY | O_CREAT | O_APPEND };
	int how = luaL_checkoption(L, 3, NULL, hows);
	mode_t mode = (mode_t)luaL_optinteger(L, 4, 0600);
	int fd = openat(dirfd, path, flags[how] | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return nsbox_fail(L, errno, "open(%s)", path);
	lua_pushinteger(L, fd);
	return 1;
}

/***
 * fstat(2).
 * @function fstat
 * @tparam integer fd
 * @treturn table { type = "directory"|"file"|"other", mode =, uid =, gid = }
 */
static int l_fstat(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return nsbox_fail(L, errno, "fstat(fd %d)", fd);
	lua_createtable(L, 0, 4);
	lua_pushstring(L, S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" : "other");
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, st.st_mode & 07777);
	lua_setfield(L, -2, "mode");
	lua_pushinteger(L, st.st_uid);
	lua_setfield(L, -2, "uid");
	lua_pushinteger(L, st.st_gid);
	lua_setfield(L, -2, "gid");
	return 1;
}

/***
 * fchmod(2).
 * @function fchmod
 * @tparam integer fd
 * @tparam integer mode
 */
static int l_fchmod(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	if (fchmod(fd, (mode_t)luaL_checkinteger(L, 2)) < 0)
		return nsbox_fail(L, errno, "fchmod(fd %d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * fchown(2).
 * @function fchown
 * @tparam integer fd
 * @tparam integer uid
 * @tparam integer gid
 */
static int l_fchown(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	if (fchown(fd, (uid_t)luaL_checkinteger(L, 2), (gid_t)luaL_checkinteger(L, 3)) < 0)
		return nsbox_fail(L, errno, "fchown(fd %d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

/* mkdirat and mkfifoat: (dirfd|nil, path[, mode]) -> true, or nil, message, errno. */
static int make_at(lua_State *L, int (*make)(int, const char *, mode_t), mode_t mode, const char *what)
{
	int dirfd = check_dirfd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	if (make(dirfd, path, (mode_t)luaL_optinteger(L, 3, mode)) < 0)
		return nsbox_fail(L, errno, "%s(%s)", what, path);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * mkdirat(2).
 * @function mkdirat
 * @tparam integer|nil dirfd nil: the current directory
 * @tparam string path
 * @tparam[opt=0700] integer mode
 */
static int l_mkdirat(lua_State *L)
{
	return make_at(L, mkdirat, 0700, "mkdir");
}

/***
 * mkfifoat(3): a new FIFO (refused, EEXIST, if the name is taken).
 * @function mkfifoat
 * @tparam integer|nil dirfd nil: the current directory
 * @tparam string path
 * @tparam[opt=0600] integer mode
 */
static int l_mkfifoat(lua_State *L)
{
	return make_at(L, mkfifoat, 0600, "mkfifo");
}

/***
 * linkat(2) within one directory: a new name for a file, refused (EEXIST) if
 * the name is taken, so it claims the name atomically.
 * @function linkat
 * @tparam integer dirfd
 * @tparam string old
 * @tparam string new
 */
static int l_linkat(lua_State *L)
{
	int dirfd = nsbox_check_fd(L, 1);
	const char *old = luaL_checkstring(L, 2), *new = luaL_checkstring(L, 3);
	if (linkat(dirfd, old, dirfd, new, 0) < 0)
		return nsbox_fail(L, errno, "link(%s, %s)", old, new);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * renameat(2) within one directory: new is replaced atomically.
 * @function renameat
 * @tparam integer dirfd
 * @tparam string old
 * @tparam string new
 */
static int l_renameat(lua_State *L)
{
	int dirfd = nsbox_check_fd(L, 1);
	const char *old = luaL_checkstring(L, 2), *new = luaL_checkstring(L, 3);
	if (renameat(dirfd, old, dirfd, new) < 0)
		return nsbox_fail(L, errno, "rename(%s, %s)", old, new);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * unlinkat(2) of a file, or of an empty directory.
 * @function unlinkat
 * @tparam integer dirfd
 * @tparam string path
 * @tparam[opt=false] boolean dir remove an empty directory (AT_REMOVEDIR)
 */
static int l_unlinkat(lua_State *L)
{
	int dirfd = nsbox_check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	if (unlinkat(dirfd, path, lua_toboolean(L, 3) ? AT_REMOVEDIR : 0) < 0)
		return nsbox_fail(L, errno, "unlink(%s)", path);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * flock(2), waiting for the lock: "ex" (exclusive) or "un" (let go). Released
 * when the fd is closed or the process ends, however it ends.
 * @function flock
 * @tparam integer fd
 * @tparam string op "ex", "un", or "try" (LOCK_EX | LOCK_NB: EWOULDBLOCK if held)
 */
static int l_flock(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	static const char *const ops[] = { "ex", "un", "try", NULL };
	static const int how[] = { LOCK_EX, LOCK_UN, LOCK_EX | LOCK_NB };
	int op = how[luaL_checkoption(L, 2, NULL, ops)];
	int r;
	while ((r = flock(fd, op)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return nsbox_fail(L, errno, "flock(fd %d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_dirat(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "openat", l_openat }, { "fstat", l_fstat }, { "fchmod", l_fchmod }, { "fchown", l_fchown }, { "mkdirat", l_mkdirat },
		{ "mkfifoat", l_mkfifoat },
		{ "linkat", l_linkat }, { "renameat", l_renameat }, { "unlinkat", l_unlinkat },
		{ "flock", l_flock }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
