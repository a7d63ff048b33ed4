/* Mounts: mount, umount, pivot_root, mount_setattr, and the fd-based calls
 * (open_tree, move_mount, fsopen/fsconfig/fsmount) that let the container's
 * set-up mount without naming a path an image owner could swap. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/***
 * mount(2).
 * @function mount
 * @tparam string|nil source
 * @tparam string target
 * @tparam[opt] string fstype
 * @tparam[opt] integer flags MS_* bits
 * @tparam[opt] string data
 * @tparam[opt] string label the target's name in an error message (default target):
 *   a mount through /proc/self/fd/N names the path it stands for
 */
static int l_mount(lua_State *L)
{
	const char *src = luaL_optstring(L, 1, NULL);
	const char *dst = luaL_checkstring(L, 2);
	const char *type = luaL_optstring(L, 3, NULL);
	unsigned long flags = (unsigned long)luaL_optinteger(L, 4, 0);
	const char *data = luaL_optstring(L, 5, NULL);
	const char *label = luaL_optstring(L, 6, dst);
	if (mount(src ? src : "none", dst, type, flags, data) < 0)
		return nsbox_fail(L, errno, "mount(%s, %s)", src ? src : type ? type : "none", label);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * umount2(2).
 * @function umount
 * @tparam string target
 * @tparam[opt] integer flags MNT_DETACH, ...
 */
static int l_umount(lua_State *L)
{
	const char *dst = luaL_checkstring(L, 1);
	int flags = (int)luaL_optinteger(L, 2, 0);
	if (umount2(dst, flags) < 0)
		return nsbox_fail(L, errno, "umount(%s)", dst);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * pivot_root(2). `pivot_root(".", ".")` stacks the old root on the new one.
 * @function pivot_root
 * @tparam string new_root
 * @tparam string put_old
 */
static int l_pivot_root(lua_State *L)
{
	const char *nr = luaL_checkstring(L, 1);
	const char *old = luaL_checkstring(L, 2);
	if (syscall(SYS_pivot_root, nr, old) < 0)
		return nsbox_fail(L, errno, "pivot_root(%s)", nr);
	lua_pushboolean(L, 1);
	return 1;
}

/* Argument arg as a place: an fd (the mount or file it stands for: "" with
 * AT_EMPTY_PATH) or a path from the cwd. */
static const char *place(lua_State *L, int arg, int *dirfd, unsigned *flags)
{
	if (lua_type(L, arg) == LUA_TNUMBER) {
		*dirfd = nsbox_check_fd(L, arg);
		*flags |= AT_EMPTY_PATH;
		return "";
	}
	*dirfd = AT_FDCWD;
	return luaL_checkstring(L, arg);
}

/***
 * mount_setattr(2): set and clear MOUNT_ATTR_* bits, recursively if asked.
 * Unlike a remount it keeps the locked flags of a mount inherited from another
 * user namespace. Works on a detached mount (open_tree, fsmount) too.
 * @function mount_setattr
 * @tparam string|integer path a path, or an fd of the mount
 * @tparam integer set MOUNT_ATTR_* bits to set
 * @tparam[opt] integer clear bits to clear
 * @tparam[opt] boolean recursive
 * @tparam[opt] string label the path's name in an error message (default path)
 */
static int l_mount_setattr(lua_State *L)
{
	unsigned flags = lua_toboolean(L, 4) ? AT_RECURSIVE : 0;
	int dirfd;
	const char *path = place(L, 1, &dirfd, &flags);
	struct mount_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = (uint64_t)luaL_checkinteger(L, 2);
	attr.attr_clr = (uint64_t)luaL_optinteger(L, 3, 0);
	const char *label = luaL_optstring(L, 5, path);
	if (syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof attr) < 0)
		return nsbox_fail(L, errno, "mount_setattr(%s)", label);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at a place
 * (a bind mount not yet attached anywhere), recursive if asked.
 * @function open_tree
 * @tparam string|integer path a path (symlinks followed), or an fd (O_PATH will do)
 * @tparam[opt] boolean recursive
 * @tparam[opt] string label the place's name in an error message (default path)
 * @treturn integer fd of the detached mount (close-on-exec)
 */
static int l_open_tree(lua_State *L)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (lua_toboolean(L, 2) ? AT_RECURSIVE : 0);
	int dirfd;
	const char *path = place(L, 1, &dirfd, &flags);
	const char *label = luaL_optstring(L, 3, path);
	int fd = (int)syscall(SYS_open_tree, dirfd, path, flags);
	if (fd < 0)
		return nsbox_fail(L, errno, "open_tree(%s)", label);
	lua_pushinteger(L, fd);
	return 1;
}

/***
 * move_mount(2): attach a detached mount (open_tree, fsmount) onto what an fd
 * stands for. Nothing is looked up by name: the fd was resolved once, by the caller.
 * @function move_mount
 * @tparam integer from fd of the detached mount (still names it after: the attached mount)
 * @tparam integer to fd of the mount point (O_PATH will do)
 * @tparam string what the mount's name in an error message ("proc", "/dev/null")
 * @tparam string label the mount point's name in an error message
 */
/* move_mount of from onto to; a directory onto a file or the reverse is ENOTDIR,
 * as mount(2) says, not EINVAL. */
static int move(int from, int to)
{
	if (syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
		return 0;
	int e = errno;
	struct stat a, b;
	if (e == EINVAL && fstat(from, &a) == 0 && fstat(to, &b) == 0 && S_ISDIR(a.st_mode) != S_ISDIR(b.st_mode))
		e = ENOTDIR;
	errno = e;
	return -1;
}

int nsbox_attach(int tree, int place)
{
	int r = move(tree, place);
	int e = errno;
	close(tree);
	errno = e;
	return r;
}

static int l_move_mount(lua_State *L)
{
	int from = nsbox_check_fd(L, 1);
	int to = nsbox_check_fd(L, 2);
	const char *what = luaL_checkstring(L, 3);
	const char *label = luaL_checkstring(L, 4);
	if (move(from, to) < 0)
		return nsbox_fail(L, errno, "mount(%s, %s)", what, label);
	lua_pushboolean(L, 1);
	return 1;
}

/* fsconfig(2) of each option of data ("k=v,flag,..."): 0, or -1 with errno and the failed option in bad. */
static int configure(int fsfd, const char *data, char *bad, size_t badlen)
{
	char buf[1024];
	if (strlen(data) >= sizeof buf)
		return errno = E2BIG, -1;
	strcpy(buf, data);
	for (char *save = NULL, *opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		long r;
		if (eq) {
			*eq = '\0';
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, opt, eq + 1, 0);
			*eq = '=';
		} else {
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
		}
		if (r < 0) {
			snprintf(bad, badlen, "%s", opt);
			return -1;
		}
	}
	return 0;
}

/***
 * A new filesystem as a detached mount: fsopen(2), fsconfig(2) of its source
 * and options, fsmount(2) with the MOUNT_ATTR_* bits. Attach it with move_mount.
 * @function fsmount
 * @tparam string fstype "proc", "tmpfs", ...
 * @tparam string source the name /proc/mounts shows
 * @tparam[opt] string data options as mount(8) takes them ("mode=755,size=64k")
 * @tparam[opt] integer attrs MOUNT_ATTR_* bits
 * @tparam[opt] string label the mount point's name in an error message
 * @treturn integer fd of the detached mount (close-on-exec)
 */
int nsbox_fsmount(const char *type, const char *source, const char *data, unsigned attrs, char *bad,
		  unsigned long badlen)
{
	int fsfd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -1;
	int fd = -1;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) == 0 &&
	    configure(fsfd, data, bad, badlen) == 0 &&
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		fd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
	int e = errno;
	close(fsfd);
	errno = e;
	return fd;
}

static int l_fsmount(lua_State *L)
{
	const char *type = luaL_checkstring(L, 1);
	const char *source = luaL_checkstring(L, 2);
	const char *data = luaL_optstring(L, 3, "");
	unsigned attrs = (unsigned)luaL_optinteger(L, 4, 0);
	const char *label = luaL_optstring(L, 5, "(detached)");
	char bad[256] = "";
	int fd = nsbox_fsmount(type, source, data, attrs, bad, sizeof bad);
	if (fd < 0 && *bad)
		return nsbox_fail(L, errno, "mount(%s, %s): option %s", type, label, bad);
	if (fd < 0)
		return nsbox_fail(L, errno, "mount(%s, %s)", type, label);
	lua_pushinteger(L, fd);
	return 1;
}

void nsbox_open_mount(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "mount", l_mount }, { "umount", l_umount }, { "pivot_root", l_pivot_root },
		{ "mount_setattr", l_mount_setattr }, { "open_tree", l_open_tree }, { "move_mount", l_move_mount },
		{ "fsmount", l_fsmount }, { NULL, NULL }
	};
	static const struct nsbox_const consts[] = {
		{ "MS_RDONLY", MS_RDONLY }, { "MS_NOSUID", MS_NOSUID }, { "MS_NODEV", MS_NODEV },
		{ "MS_NOEXEC", MS_NOEXEC }, { "MS_REMOUNT", MS_REMOUNT }, { "MS_BIND", MS_BIND },
		{ "MS_MOVE", MS_MOVE }, { "MS_REC", MS_REC }, { "MS_PRIVATE", MS_PRIVATE },
		{ "MS_SLAVE", MS_SLAVE }, { "MS_SHARED", MS_SHARED }, { "MS_STRICTATIME", MS_STRICTATIME },
		{ "MS_RELATIME", MS_RELATIME }, { "MS_NOATIME", MS_NOATIME },
		{ "MNT_DETACH", MNT_DETACH }, { "MNT_FORCE", MNT_FORCE },
		{ "MOUNT_ATTR_RDONLY", MOUNT_ATTR_RDONLY }, { "MOUNT_ATTR_NOSUID", MOUNT_ATTR_NOSUID },
		{ "MOUNT_ATTR_NODEV", MOUNT_ATTR_NODEV }, { "MOUNT_ATTR_NOEXEC", MOUNT_ATTR_NOEXEC },
		{ "MOUNT_ATTR_STRICTATIME", MOUNT_ATTR_STRICTATIME },
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
