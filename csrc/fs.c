/* Filesystem calls the container setup needs: stat, mkdir, symlink, create, chdir. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return "directory";
	case S_IFREG: return "file";
	case S_IFLNK: return "link";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

/***
 * lstat(2) (or stat(2) with follow = true); fstat(2) of an fd (an O_PATH one
 * of a symlink says "link").
 * @function stat
 * @tparam string|integer path a path, or an fd
 * @tparam[opt] boolean follow
 * @treturn table { type =, mode =, uid =, gid =, ino =, dev =, rdev_major =, rdev_minor =, size =,
 * mtime = (nanoseconds) }
 */
static int l_stat(lua_State *L)
{
	struct stat st;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		int fd = nsbox_check_fd(L, 1);
		if (fstat(fd, &st) < 0)
			return nsbox_fail(L, errno, "stat(fd %d)", fd);
	} else {
		const char *path = luaL_checkstring(L, 1);
		if ((lua_toboolean(L, 2) ? stat(path, &st) : lstat(path, &st)) < 0)
			return nsbox_fail(L, errno, "stat(%s)", path);
	}
	lua_createtable(L, 0, 10);
	lua_pushstring(L, type_name(st.st_mode));
	lua_setfield(L, -2, "type");
	struct { const char *k; lua_Integer v; } f[] = {
		{ "mode", st.st_mode & 07777 }, { "uid", st.st_uid }, { "gid", st.st_gid },
		{ "ino", (lua_Integer)st.st_ino }, { "dev", (lua_Integer)st.st_dev },
		{ "rdev_major", major(st.st_rdev) }, { "rdev_minor", minor(st.st_rdev) },
		{ "size", st.st_size },
		{ "mtime", (lua_Integer)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		lua_pushinteger(L, f[i].v);
		lua_setfield(L, -2, f[i].k);
	}
	return 1;
}

/***
 * mkdir(2).
 * @function mkdir
 * @tparam string path
 * @tparam[opt=0755] integer mode
 */
static int l_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (mkdir(path, (mode_t)luaL_optinteger(L, 2, 0755)) < 0)
		return nsbox_fail(L, errno, "mkdir(%s)", path);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * symlink(2), or symlinkat(2) relative to a directory fd.
 * @function symlink
 * @tparam string target
 * @tparam string path
 * @tparam[opt] integer dirfd path is relative to it
 * @tparam[opt] string label the path's name in an error message (default path)
 */
static int l_symlink(lua_State *L)
{
	const char *target = luaL_checkstring(L, 1);
	const char *path = luaL_checkstring(L, 2);
	int dirfd = lua_isnoneornil(L, 3) ? AT_FDCWD : nsbox_check_fd(L, 3);
	const char *label = luaL_optstring(L, 4, path);
	if (symlinkat(target, dirfd, path) < 0)
		return nsbox_fail(L, errno, "symlink(%s)", label);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Create an empty file if it does not exist (a bind-mount target); never follows a symlink.
 * @function touch
 * @tparam string path
 * @tparam[opt=0644] integer mode
 */
static int l_touch(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (mode_t)luaL_optinteger(L, 2, 0644));
	if (fd < 0)
		return nsbox_fail(L, errno, "create(%s)", path);
	close(fd);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * chdir(2).
 * @function chdir
 * @tparam string path
 */
static int l_chdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (chdir(path) < 0)
		return nsbox_fail(L, errno, "chdir(%s)", path);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * access(2) with X_OK: is path an executable file for this process?
 * @function executable
 * @tparam string path
 */
static int l_executable(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (access(path, X_OK) < 0)
		return nsbox_fail(L, errno, "access(%s)", path);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * readlink(2).
 * @function readlink
 * @tparam string path
 * @treturn string
 */
static int l_readlink(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof buf);
	if (n < 0)
		return nsbox_fail(L, errno, "readlink(%s)", path);
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/***
 * realpath(3): the absolute, symlink-free form of a path.
 * @function realpath
 * @tparam string path
 * @treturn string
 */
static int l_realpath(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char *r = realpath(path, NULL);
	if (!r)
		return nsbox_fail(L, errno, "realpath(%s)", path);
	lua_pushstring(L, r);
	free(r);
	return 1;
}

/***
 * The names in a directory, without "." and "..".
 * @function readdir
 * @tparam string path
 * @treturn table array of names (unsorted)
 */
static int l_readdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return nsbox_fail(L, e, "readdir(%s)", path);
	}
	lua_newtable(L);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			lua_pushstring(L, e->d_name);
			lua_rawseti(L, -2, ++n);
		}
	closedir(d);
	return 1;
}

void nsbox_open_fs(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "stat", l_stat }, { "mkdir", l_mkdir }, { "symlink", l_symlink }, { "touch", l_touch },
		{ "chdir", l_chdir }, { "executable", l_executable },
		{ "readlink", l_readlink }, { "realpath", l_realpath }, { "readdir", l_readdir }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
