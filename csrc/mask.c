/* The masked and read-only paths of a container's /proc and /sys (nsbox.rootfs
 * gives the lists: the OCI defaults), inside the proc and sysfs that nsbox
 * mounted, fd to fd. In C because it is the longest loop of the set-up: about
 * 70 calls from Lua, each costing more there than its system call. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SAFE (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

static int clone_of(int fd, unsigned flags)
{
	return (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | flags);
}

/* Hide the file or directory at place: a file under null (the checked
 * /dev/null), a directory under the empty tmpfs *empty, made on the first and
 * cloned for the rest (a detached mount cannot be cloned before Linux 6.15): one
 * empty superblock, read-only, behind every masked directory. */
static int hide(int place, int null, int *empty)
{
	struct stat st;
	if (fstat(place, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || *empty >= 0) {
		int tree = clone_of(S_ISDIR(st.st_mode) ? *empty : null, 0);
		return tree < 0 ? -1 : nsbox_attach(tree, place);
	}
	char bad[32];
	/* kept in *empty (the caller closes it): once moved, the attached mount */
	*empty = nsbox_fsmount("tmpfs", "tmpfs", "size=0,mode=555", SAFE | MOUNT_ATTR_RDONLY, bad, sizeof bad);
	if (*empty < 0)
		return -1;
	return (int)syscall(SYS_move_mount, *empty, "", place, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/* Bind place on itself, read-only throughout. */
static int read_only(int place)
{
	struct mount_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = SAFE | MOUNT_ATTR_RDONLY;
	int tree = clone_of(place, AT_RECURSIVE);
	if (tree < 0)
		return -1;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		int e = errno;
		close(tree);
		errno = e;
		return -1;
	}
	return nsbox_attach(tree, place);
}

/* The mount fd for path's first part ("/proc/keys": mounts.proc, at index
 * mounts) and, in rel, the rest; -1 if the path or the table is not so. */
static int mount_of(lua_State *L, int mounts, const char *path, const char **rel)
{
	const char *p = path + (*path == '/');
	const char *slash = strchr(p, '/');
	if (!slash || !slash[1])
		return -1;
	lua_pushlstring(L, p, (size_t)(slash - p));
	lua_gettable(L, mounts);
	int fd = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
	lua_pop(L, 1);
	*rel = slash + 1;
	return fd;
}

/***
 * Mask paths and make others read-only, each resolved inside the mount fd of the
 * proc (or sys) that nsbox mounted (RESOLVE_BENEATH), never through the image:
 * a file masked under the host's /dev/null (the fd given, checked by the caller),
 * a directory under an empty read-only tmpfs; a read-only path bound on itself,
 * nosuid, nodev, noexec and read-only throughout. Paths this kernel lacks are skipped.
 * @function mask
 * @tparam string label the rootfs, which names the paths in messages
 * @tparam table mounts fds of the mounts by first part: `{ proc = fd, sys = fd }`
 * @tparam integer null O_PATH fd of /dev/null
 * @tparam table masked paths ("/proc/kcore", "/sys/firmware")
 * @tparam table readonly paths ("/proc/sys")
 */
static int l_mask(lua_State *L)
{
	const char *label = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	int null = nsbox_check_fd(L, 3);
	luaL_checktype(L, 4, LUA_TTABLE);
	luaL_checktype(L, 5, LUA_TTABLE);
	const char *rel;
	for (int list = 4; list <= 5; list++) /* all checked before anything is mounted */
		for (lua_Integer i = 1, n = luaL_len(L, list); i <= n; i++) {
			const char *path = lua_geti(L, list, i) == LUA_TSTRING ? lua_tostring(L, -1) : "";
			if (mount_of(L, 2, path, &rel) < 0)
				return nsbox_fail_msg(L, EINVAL, "mask: '%s' is not /TOP/PATH with an fd in mounts for TOP", path);
			lua_pop(L, 1);
		}
	int empty = -1;
	for (int list = 4; list <= 5; list++)
		for (lua_Integer i = 1, n = luaL_len(L, list); i <= n; i++) {
			lua_geti(L, list, i);
			const char *path = lua_tostring(L, -1);
			int mnt = mount_of(L, 2, path, &rel);
			int place = nsbox_open2(mnt, rel, O_PATH, 0, BENEATH), r = 0;
			if (place >= 0) {
				r = list == 4 ? hide(place, null, &empty) : read_only(place);
				int e = errno;
				close(place);
				errno = e;
			} else if (errno != ENOENT) {
				r = -1;
			}
			if (r < 0) {
				int e = errno;
				if (empty >= 0)
					close(empty);
				return nsbox_fail(L, e, "%s(%s%s)", list == 4 ? "mask" : "read-only", label, path);
			}
			lua_pop(L, 1);
		}
	if (empty >= 0)
		close(empty);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_mask(lua_State *L)
{
	static const luaL_Reg fns[] = { { "mask", l_mask }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
