/* Mounts: mount, umount, pivot_root and mount_setattr. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
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

/***
 * mount_setattr(2) on a path: set and clear MOUNT_ATTR_* bits, recursively if asked.
 * Unlike a remount it keeps the locked flags of a mount inherited from another
 * user namespace.
 * @function mount_setattr
 * @tparam string path
 * @tparam integer set MOUNT_ATTR_* bits to set
 * @tparam[opt] integer clear bits to clear
 * @tparam[opt] boolean recursive
 * @tparam[opt] string label the path's name in an error message (default path)
 */
static int l_mount_setattr(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct mount_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = (uint64_t)luaL_checkinteger(L, 2);
	attr.attr_clr = (uint64_t)luaL_optinteger(L, 3, 0);
	unsigned flags = lua_toboolean(L, 4) ? AT_RECURSIVE : 0;
	const char *label = luaL_optstring(L, 5, path);
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr) < 0)
		return nsbox_fail(L, errno, "mount_setattr(%s)", label);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_mount(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "mount", l_mount }, { "umount", l_umount }, { "pivot_root", l_pivot_root },
		{ "mount_setattr", l_mount_setattr }, { NULL, NULL }
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
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
