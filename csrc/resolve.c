/* Paths resolved inside a root with openat2(2), so that a symlink in a rootfs
 * we did not build can never lead a mount, a mkdir or a chdir outside it. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int nsbox_open2(int dirfd, const char *path, int flags, unsigned mode, unsigned long long resolve)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.mode = mode;
	how.resolve = resolve;
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

/* resolved as resolve says, nothing created */
static int open2(int dirfd, const char *path, int flags, unsigned long long resolve)
{
	return nsbox_open2(dirfd, path, flags, 0, resolve);
}

/* Make the last component of prefix (missing) below root: a directory, or an empty
 * file, which openat2 makes and opens in one call (O_EXCL: never an existing name).
 * An fd of the new file, 0 for a directory, -1 with errno, or -2: the name is there
 * but leads nowhere (a dangling symlink). */
static int create_last(int rootfd, char *prefix, int file, unsigned long long resolve)
{
	int r;
	if (file) {
		r = nsbox_open2(rootfd, prefix, NSBOX_NEW_FILE, 0644, resolve);
	} else {
		char *slash = strrchr(prefix, '/');
		int parent = rootfd; /* a name without a slash is made in rootfd itself */
		if (slash) {
			*slash = '\0';
			parent = open2(rootfd, prefix[0] ? prefix : ".", O_PATH | O_DIRECTORY, resolve);
			*slash = '/';
			if (parent < 0)
				return -1;
		}
		r = mkdirat(parent, slash ? slash + 1 : prefix, 0755);
		int e = errno;
		if (parent != rootfd)
			close(parent);
		errno = e;
	}
	if (r < 0 && errno == EEXIST) /* the caller found nothing there: a link to nowhere */
		return -2;
	return r;
}

/***
 * Open a path inside a root, as an O_PATH fd, creating what is missing if asked
 * (a file made here comes back as the O_RDONLY fd openat2 made it with: use the
 * fd as a place, for move_mount or fstat, not for I/O).
 * Symlinks resolve inside the root ("in_root", RESOLVE_IN_ROOT) or must not leave
 * it at all ("beneath", RESOLVE_BENEATH); magic links (/proc/self/fd/N) are
 * refused either way. "nofollow" is "in_root" with a symlink as the last part
 * opened itself (O_NOFOLLOW: fstat says "link"), not followed. Mount on the fd
 * with move_mount.
 * @function open_in_root
 * @tparam string root
 * @tparam string path inside root ("/dev/pts")
 * @tparam[opt] string create "dir" (mkdir -p) or "file" (the last part a file)
 * @tparam[opt="in_root"] string mode "in_root", "beneath" or "nofollow"
 * @tparam[opt] integer rootfd an fd of root already open (kept open), to spare
 *   opening it again; root then only names it in messages
 * @treturn integer fd
 */
static int l_open_in_root(lua_State *L)
{
	const char *root = luaL_checkstring(L, 1);
	const char *path = luaL_checkstring(L, 2);
	const char *create = luaL_optstring(L, 3, "");
	const char *mode = luaL_optstring(L, 4, "in_root");
	luaL_argcheck(L, !*create || !strcmp(create, "dir") || !strcmp(create, "file"), 3, "\"dir\" or \"file\" expected");
	int nofollow = !strcmp(mode, "nofollow");
	luaL_argcheck(L, nofollow || !strcmp(mode, "in_root") || !strcmp(mode, "beneath"), 4,
		      "\"in_root\", \"beneath\" or \"nofollow\" expected");
	unsigned long long resolve = RESOLVE_NO_MAGICLINKS |
		(!strcmp(mode, "beneath") ? RESOLVE_BENEATH : RESOLVE_IN_ROOT);
	int oflags = O_PATH | (nofollow ? O_NOFOLLOW : 0);
	while (*path == '/')
		path++;
	char rel[4096];
	size_t len = strlen(path);
	if (len >= sizeof rel)
		return nsbox_fail(L, ENAMETOOLONG, "open(%s%s)", root, path);
	memcpy(rel, *path ? path : ".", *path ? len + 1 : 2);

	int given = !lua_isnoneornil(L, 5);
	int rootfd = given ? nsbox_check_fd(L, 5) : open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return nsbox_fail(L, errno, "open(%s)", root);
	int fd = open2(rootfd, rel, oflags, resolve);
	const char *op = "open";
	/* Missing: create it part by part, each part resolved in the root again. */
	for (char *p = rel; fd < 0 && errno == ENOENT && *create; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = '\0';
		int last = !c, r = 0;
		/* the whole path was just found missing: only the parts above it are probed */
		int probe = last ? (errno = ENOENT, -1) : open2(rootfd, rel, O_PATH, resolve);
		int as_file = last && !strcmp(create, "file");
		if (probe >= 0) {
			close(probe);
		} else if (errno != ENOENT) {
			r = -1;
		} else if ((r = create_last(rootfd, rel, as_file, resolve)) < 0) {
			op = as_file ? "create" : "mkdir";
		}
		if (r == -2 && last) { /* there now after all (made meanwhile)? then open it */
			int again = open2(rootfd, rel, O_PATH, resolve);
			if (again >= 0) {
				close(again);
				fd = open2(rootfd, rel, oflags, resolve);
				break;
			}
		}
		if (r == -2) {
			if (!given)
				close(rootfd);
			const char *r0 = strcmp(root, "/") ? root : "";
			return nsbox_fail_msg(L, ELOOP, "open(%s/%s): %s/%s is a symlink that leads nowhere: refused",
					      r0, path, r0, rel);
		}
		if (r < 0)
			break;
		*p = c;
		if (last) {
			fd = as_file ? r : open2(rootfd, rel, oflags, resolve);
			break;
		}
	}
	int e = errno;
	if (!given)
		close(rootfd);
	if (fd < 0)
		return nsbox_fail(L, e, "%s(%s/%s)", op, strcmp(root, "/") ? root : "", rel);
	lua_pushinteger(L, fd);
	return 1;
}

/***
 * fchdir(2).
 * @function fchdir
 * @tparam integer fd
 */
static int l_fchdir(lua_State *L)
{
	int fd = nsbox_check_fd(L, 1);
	if (fchdir(fd) < 0)
		return nsbox_fail(L, errno, "fchdir(%d)", fd);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_resolve(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "open_in_root", l_open_in_root }, { "fchdir", l_fchdir }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
