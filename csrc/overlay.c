/* The container's copy-on-write root: an overlayfs whose lower layers are the
 * image's directories, made as one detached mount (fsopen, fsconfig, fsmount).
 * Every layer is named by an fd (/proc/self/fd/N), never by the caller's path:
 * the options carry no path a ':' or ',' could split, and what was checked is
 * what is stacked. With no upper given, the upper and work directories live on
 * a private tmpfs made here, gone with the last mount of the overlay. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_LAYERS 64

static int set_string(int fsfd, const char *key, const char *value)
{
	return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0);
}

/* The kernel's own reason, from the fs context's log (the last "e " line), into msg. */
static void kernel_reason(int fsfd, char *msg, size_t len)
{
	char line[512];
	ssize_t n;
	while ((n = read(fsfd, line, sizeof line - 1)) > 0) {
		line[n] = '\0';
		if (line[0] == 'e' && line[1] == ' ')
			snprintf(msg, len, "%s", line + 2);
	}
}

/* The upper's root takes the top layer's owner and mode: the overlay's root
 * shows the upper's. An owner this namespace cannot map is left as it is. */
static int like_top(int dir, const struct stat *top)
{
	if (fchown(dir, top->st_uid, top->st_gid) < 0 && errno != EINVAL && errno != EPERM)
		return -1;
	return fchmod(dir, top->st_mode & 07777);
}

/* upper and work on a new tmpfs attached on place (a layer must be in our mount
 * namespace): its fd in fds[2], theirs in fds[0], fds[1]; 0, or -1 with errno and
 * the step in what. */
static int private_upper(const struct stat *top, int place, int fds[3], const char **what)
{
	char bad[64];
	*what = "tmpfs";
	fds[0] = fds[1] = -1;
	fds[2] = nsbox_fsmount("tmpfs", "tmpfs", "mode=0700", MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, bad, sizeof bad);
	if (fds[2] < 0)
		return -1;
	if (syscall(SYS_move_mount, fds[2], "", place, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail;
	*what = "upper";
	if (mkdirat(fds[2], "upper", 0700) < 0 || mkdirat(fds[2], "work", 0700) < 0)
		goto fail;
	fds[0] = openat(fds[2], "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	fds[1] = openat(fds[2], "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || like_top(fds[0], top) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno;
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	errno = e;
	return -1;
}

/* tmpfs keeps user.* xattrs only from Linux 6.6 (other filesystems may have none):
 * without them an unprivileged overlay mounts, but cannot mark a directory opaque
 * (rm -r d; mkdir d gives EIO), so it is refused here. */
static int user_xattrs(int dir)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/self/fd/%d", dir); /* dir may be O_PATH: no fgetxattr */
	return getxattr(path, "user.overlay.opaque", NULL, 0) < 0 && errno != ENODATA ? -1 : 0;
}

/***
 * A new overlayfs as a detached mount (attach it with move_mount).
 * @function overlay
 * @tparam table layers fds of the lower layers' directories, the top first
 * @tparam string label names the root in messages
 * @tparam table opts `upper`, `work`: directory fds (both or neither); neither: a
 * private tmpfs holds them, attached on the fd `place` (covered by the overlay: attach
 * it there); `userxattr` (an unprivileged mount: user.overlay.* xattrs), `attrs`
 * (MOUNT_ATTR_* bits)
 * @treturn integer the overlay's fd
 * @treturn[opt] integer the private tmpfs's fd
 */
static int l_overlay(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *label = luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	int upper = (int)nsbox_opt_int_field(L, 3, "upper", -1);
	int work = (int)nsbox_opt_int_field(L, 3, "work", -1);
	int place = (int)nsbox_opt_int_field(L, 3, "place", -1);
	int userxattr = nsbox_opt_bool_field(L, 3, "userxattr", 0);
	unsigned attrs = (unsigned)nsbox_opt_int_field(L, 3, "attrs", 0);
	if ((upper < 0) != (work < 0) || (upper < 0) == (place < 0))
		return luaL_argerror(L, 3, "upper and work, or place, expected");
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	if (n < 1 || n > MAX_LAYERS)
		return luaL_argerror(L, 1, "1 to 64 layer fds expected");
	char lower[MAX_LAYERS * 24] = "", *p = lower;
	int top = -1;
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		int fd = (int)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
		if (i == 1)
			top = fd;
		p += sprintf(p, "%s/proc/self/fd/%d", i > 1 ? ":" : "", fd);
	}
	struct stat st;
	if (fstat(top, &st) < 0)
		return nsbox_fail(L, errno, "overlay(%s): the top layer", label);
	int own[3] = { -1, -1, -1 };
	if (upper < 0) {
		const char *what;
		if (private_upper(&st, place, own, &what) < 0)
			return nsbox_fail(L, errno, "overlay(%s): the private upper layer (%s)", label, what);
		upper = own[0], work = own[1];
	}
	if (userxattr && user_xattrs(upper) < 0) {
		int e = errno;
		if (own[0] >= 0)
			close(own[0]), close(own[1]), close(own[2]);
		return nsbox_fail(L, e, "overlay(%s): the upper layer has no user xattrs (%s)", label,
				  own[0] >= 0 ? "tmpfs has them from Linux 6.6" : "its filesystem");
	}
	char up[32], wk[32], reason[512] = "";
	snprintf(up, sizeof up, "/proc/self/fd/%d", upper);
	snprintf(wk, sizeof wk, "/proc/self/fd/%d", work);
	int fd = -1, fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fsfd >= 0) {
		if (set_string(fsfd, "source", "overlay") == 0 && set_string(fsfd, "lowerdir", lower) == 0 &&
		    set_string(fsfd, "upperdir", up) == 0 && set_string(fsfd, "workdir", wk) == 0 &&
		    (!userxattr || syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0) &&
		    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
			fd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
		int e = errno;
		if (fd < 0)
			kernel_reason(fsfd, reason, sizeof reason);
		close(fsfd);
		errno = e;
	}
	int e = errno;
	if (own[0] >= 0)
		close(own[0]), close(own[1]);
	if (fd < 0 && own[2] >= 0)
		close(own[2]);
	if (fd < 0 && *reason)
		return nsbox_fail_msg(L, e, "overlay(%s): %s (%s)", label, strerror(e), reason);
	if (fd < 0)
		return nsbox_fail(L, e, "overlay(%s)", label);
	lua_pushinteger(L, fd);
	if (own[2] < 0)
		return 1;
	lua_pushinteger(L, own[2]);
	return 2;
}

void nsbox_open_overlay(lua_State *L)
{
	static const luaL_Reg fns[] = { { "overlay", l_overlay }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
