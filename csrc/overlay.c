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
#define MAX_FILES 8

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

/* A new tmpfs attached on place (overlayfs takes layers only from our own mount
 * namespace): its fd, or -1 with errno. */
static int private_tmpfs(int place)
{
	char bad[64];
	int tmp = nsbox_fsmount("tmpfs", "tmpfs", "mode=0700", MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, bad, sizeof bad);
	if (tmp >= 0 &&
	    syscall(SYS_move_mount, tmp, "", place, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		int e = errno;
		close(tmp);
		errno = e;
		return -1;
	}
	return tmp;
}

/* The directory name made in the fd dir, opened: its fd, or -1 with errno. */
static int subdir(int dir, const char *name)
{
	if (mkdirat(dir, name, 0700) < 0)
		return -1;
	return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The detached tree (an idmapped clone) attached on a new directory name of dir. */
static int attach_below(int dir, const char *name, int tree)
{
	int at = subdir(dir, name);
	if (at < 0)
		return -1;
	int r = (int)syscall(SYS_move_mount, tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;
	close(at);
	errno = e;
	return r;
}

/* tmpfs keeps user.* xattrs only from Linux 6.6 (other filesystems may have none):
 * without them an unprivileged overlay mounts, but cannot mark a directory opaque
 * (rm -r d; mkdir d gives EIO), so it is refused here. */
static int user_xattrs(int dir, int o_path)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/self/fd/%d", dir); /* an O_PATH fd has no fgetxattr */
	ssize_t r = o_path ? getxattr(path, "user.overlay.opaque", NULL, 0) : fgetxattr(dir, "user.overlay.opaque", NULL, 0);
	return r < 0 && errno != ENODATA ? -1 : 0;
}

struct file {
	const char *name, *text;
	size_t len;
};

/* The files of opts.etc ({ { name, text }, ... }) into f, checked before anything is made: how many. */
static int etc_files(lua_State *L, struct file *f)
{
	if (lua_getfield(L, 3, "etc") == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	luaL_argcheck(L, lua_istable(L, -1) && lua_rawlen(L, -1) <= MAX_FILES, 3, "etc: at most 8 { name, text } expected");
	int n = (int)lua_rawlen(L, -1);
	for (int i = 0; i < n; i++) {
		luaL_argcheck(L, lua_rawgeti(L, -1, i + 1) == LUA_TTABLE, 3, "etc: { name, text } expected");
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		f[i].name = lua_tostring(L, -2); /* the strings stay referenced by opts */
		f[i].text = lua_tolstring(L, -1, &f[i].len);
		luaL_argcheck(L, f[i].name && f[i].text && *f[i].name && !strchr(f[i].name, '/') && f[i].name[0] != '.', 3,
			      "etc: a file name and its text expected");
		lua_pop(L, 3);
	}
	lua_pop(L, 1);
	return n;
}

/* The new file f->name in dir, holding f->text, mode 0644. */
static int put_file(int dir, const struct file *f)
{
	int fd = openat(dir, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < f->len) {
		ssize_t w = write(fd, f->text + done, f->len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int r = done == f->len ? fchmod(fd, 0644) : -1; /* past the umask */
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* The container's /etc files put in the upper layer before the overlay is made,
 * in an etc directory with the owner and mode of the image's (the top layer
 * that has the name): the overlay shows them over the image's own, with no
 * copy-up of /etc at the first write through it. 1 if put; 0 where the image
 * has no /etc directory there (none, a link, a whiteout) or its owner is not
 * mapped here (then the caller writes through the overlay); -1 with errno. */
static int place_etc(int upper, const int *layer, int n, const struct file *f, int nf)
{
	struct stat st;
	int i = 0;
	for (; i < n; i++) {
		if (fstatat(layer[i], "etc", &st, AT_SYMLINK_NOFOLLOW) == 0)
			break;
		if (errno != ENOENT)
			return -1;
	}
	if (i == n || !S_ISDIR(st.st_mode))
		return 0;
	if (mkdirat(upper, "etc", 0700) < 0)
		return -1;
	int dir = openat(upper, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	int r = fchown(dir, st.st_uid, st.st_gid);
	if (r < 0 && (errno == EINVAL || errno == EPERM)) { /* an owner we cannot give it */
		close(dir);
		return unlinkat(upper, "etc", AT_REMOVEDIR) < 0 ? -1 : 0;
	}
	if (r == 0)
		r = fchmod(dir, st.st_mode & 07777);
	for (int k = 0; r == 0 && k < nf; k++)
		r = put_file(dir, &f[k]);
	int e = errno;
	close(dir);
	errno = e;
	return r < 0 ? -1 : 1;
}

static int set_string(int fsfd, const char *key, const char *value)
{
	return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0);
}

/* fsopen, fsconfig, fsmount of the overlay: its fd, or -1 with errno and the kernel's reason. */
static int make(const char *lower, int upper, int work, int userxattr, unsigned attrs, char *reason, size_t len)
{
	char up[32], wk[32];
	snprintf(up, sizeof up, "/proc/self/fd/%d", upper);
	snprintf(wk, sizeof wk, "/proc/self/fd/%d", work);
	int fd = -1, fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -1;
	if (set_string(fsfd, "source", "overlay") == 0 && set_string(fsfd, "lowerdir", lower) == 0 &&
	    set_string(fsfd, "upperdir", up) == 0 && set_string(fsfd, "workdir", wk) == 0 &&
	    (!userxattr || syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0) &&
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		fd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
	int e = errno;
	if (fd < 0)
		kernel_reason(fsfd, reason, len);
	close(fsfd);
	errno = e;
	return fd;
}

/***
 * A new overlayfs as a detached mount. A private tmpfs, attached on the fd
 * `place`, holds the upper and work directories (unless given) and the attach
 * points of layers given as detached trees; attach the overlay on the tmpfs.
 * @function overlay
 * @tparam table layers fds of the lower layers' directories, the top first
 * @tparam string label names the root in messages
 * @tparam table opts `place` (required), `upper`, `work`: directory fds (both or
 * neither), `detached` (the layers are detached trees: idmapped clones),
 * `userxattr` (an unprivileged mount: user.overlay.* xattrs), `attrs` (MOUNT_ATTR_* bits),
 * `etc` ({ { name, text }, ... }: files put in the private upper's /etc where the image has one)
 * @treturn integer the overlay's fd
 * @treturn integer the private tmpfs's fd
 * @treturn boolean whether the etc files were put
 */
static int l_overlay(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *label = luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	int fds[3] = { -1, -1, -1 }; /* upper, work, tmpfs */
	fds[0] = (int)nsbox_opt_int_field(L, 3, "upper", -1);
	fds[1] = (int)nsbox_opt_int_field(L, 3, "work", -1);
	int place = (int)nsbox_opt_int_field(L, 3, "place", -1);
	int detached = nsbox_opt_bool_field(L, 3, "detached", 0);
	int userxattr = nsbox_opt_bool_field(L, 3, "userxattr", 0);
	unsigned attrs = (unsigned)nsbox_opt_int_field(L, 3, "attrs", 0);
	int given = fds[0] >= 0;
	if ((fds[0] < 0) != (fds[1] < 0) || place < 0)
		return luaL_argerror(L, 3, "place, and upper with work or neither, expected");
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	if (n < 1 || n > MAX_LAYERS)
		return luaL_argerror(L, 1, "1 to 64 layer fds expected");
	int layer[MAX_LAYERS];
	for (lua_Integer i = 0; i < n; i++) {
		lua_rawgeti(L, 1, i + 1);
		layer[i] = (int)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
	struct file files[MAX_FILES];
	int nfiles = etc_files(L, files), placed = 0;
	struct stat top;
	if (fstat(layer[0], &top) < 0)
		return nsbox_fail(L, errno, "overlay(%s): the top layer", label);
	const char *what = "tmpfs";
	char lower[MAX_LAYERS * 32] = "", *p = lower, name[16], reason[512] = ""; /* "/proc/self/fd/N:" <= 26 each */
	int fd = -1;
	fds[2] = private_tmpfs(place);
	if (fds[2] < 0)
		goto fail;
	what = "layer";
	for (lua_Integer i = 0; i < n; i++) {
		snprintf(name, sizeof name, "l%d", (int)i);
		if (detached && attach_below(fds[2], name, layer[i]) < 0)
			goto fail;
		p += sprintf(p, "%s/proc/self/fd/%d", i ? ":" : "", layer[i]);
	}
	what = "upper";
	if (!given && ((fds[0] = subdir(fds[2], "upper")) < 0 || (fds[1] = subdir(fds[2], "work")) < 0 ||
		       like_top(fds[0], &top) < 0))
		goto fail;
	if (userxattr && user_xattrs(fds[0], given) < 0) {
		int e = errno;
		if (!given)
			close(fds[0]), close(fds[1]);
		close(fds[2]);
		return nsbox_fail(L, e, "overlay(%s): the upper layer has no user xattrs (%s)", label,
				  given ? "its filesystem" : "tmpfs has them from Linux 6.6");
	}
	if (!given && nfiles > 0 && (placed = place_etc(fds[0], layer, (int)n, files, nfiles)) < 0)
		goto fail;
	what = NULL;
	fd = make(lower, fds[0], fds[1], userxattr, attrs, reason, sizeof reason);
fail:;
	int e = errno;
	if (!given) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
	}
	if (fd < 0 && fds[2] >= 0)
		close(fds[2]);
	if (fd < 0 && what)
		return nsbox_fail(L, e, "overlay(%s): the private layer (%s)", label, what);
	if (fd < 0 && *reason)
		return nsbox_fail_msg(L, e, "overlay(%s): %s (%s)", label, strerror(e), reason);
	if (fd < 0)
		return nsbox_fail(L, e, "overlay(%s)", label);
	lua_pushinteger(L, fd);
	lua_pushinteger(L, fds[2]);
	lua_pushboolean(L, placed);
	return 3;
}

void nsbox_open_overlay(lua_State *L)
{
	static const luaL_Reg fns[] = { { "overlay", l_overlay }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
