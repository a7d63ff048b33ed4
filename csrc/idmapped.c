/* Idmapped mounts: a clone of a tree whose ids are shown through a user
 * namespace's map (MOUNT_ATTR_IDMAP), so that an image owned by root looks
 * owned by the container's root, and what the container writes lands as the
 * ids its map says. Needs CAP_SYS_ADMIN over the filesystem (the host's root)
 * and a filesystem that supports it: the caller names the limit on EINVAL. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	long magic;
	const char *name;
} FS[] = {
	{ TMPFS_MAGIC, "tmpfs" }, { OVERLAYFS_SUPER_MAGIC, "overlayfs" }, { EXT4_SUPER_MAGIC, "ext4" },
	{ XFS_SUPER_MAGIC, "xfs" }, { BTRFS_SUPER_MAGIC, "btrfs" }, { RAMFS_MAGIC, "ramfs" },
	{ NFS_SUPER_MAGIC, "nfs" }, { FUSE_SUPER_MAGIC, "fuse" }, { SQUASHFS_MAGIC, "squashfs" },
};

/***
 * The name of the filesystem an fd is on (statfs's f_type), or its magic number in hex.
 * @function fs_type
 * @tparam integer fd
 * @treturn string "ext4", "tmpfs", "overlayfs", ... or "0x..."
 */
static int l_fs_type(lua_State *L)
{
	struct statfs s;
	if (fstatfs(nsbox_check_fd(L, 1), &s) < 0)
		return nsbox_fail(L, errno, "statfs");
	for (size_t i = 0; i < sizeof FS / sizeof FS[0]; i++)
		if (s.f_type == FS[i].magic) {
			lua_pushstring(L, FS[i].name);
			return 1;
		}
	lua_pushfstring(L, "0x%x", (unsigned)s.f_type);
	return 1;
}

/***
 * A detached clone of the tree at fd (recursive), idmapped through the user namespace userns.
 * @function idmapped_tree
 * @tparam integer fd the tree's directory (O_PATH will do)
 * @tparam integer userns an fd of the user namespace (/proc/PID/ns/user)
 * @tparam string label names the tree in messages
 * @treturn integer the clone's fd
 */
static int l_idmapped_tree(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1), userns = nsbox_check_fd(L, 2);
	const char *label = luaL_checkstring(L, 3);
	int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		return nsbox_fail(L, errno, "open_tree(%s)", label);
	struct mount_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (uint64_t)userns;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		int e = errno;
		close(tree);
		return nsbox_fail(L, e, "idmapped mount(%s)", label);
	}
	lua_pushinteger(L, tree);
	return 1;
}

void nsbox_open_idmapped(lua_State *L)
{
	static const luaL_Reg fns[] = { { "fs_type", l_fs_type }, { "idmapped_tree", l_idmapped_tree }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
