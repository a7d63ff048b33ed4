/* The host's device nodes bound into a container's /dev (nsbox's own tmpfs),
 * in one call: the Lua loop cost more than its system calls. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Bind the host's /dev/name on a new file name in dev. */
static int bind_node(int dev, const char *name)
{
	char host[64];
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') ||
	    snprintf(host, sizeof host, "/dev/%s", name) >= (int)sizeof host)
		return errno = EINVAL, -1;
	/* a bind keeps the node's own mount flags: it works on the nodev tmpfs */
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return -1;
	int place = nsbox_open2(dev, name, NSBOX_NEW_FILE, 0644, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (place < 0) {
		int e = errno;
		close(tree);
		errno = e;
		return -1;
	}
	int r = nsbox_attach(tree, place);
	int e = errno;
	close(place);
	errno = e;
	return r;
}

/***
 * Bind the host's device nodes /dev/NAME, each on a new file NAME made in the
 * directory fd dev (a tmpfs nsbox mounted: nothing of the image's is there).
 * @function bind_devices
 * @tparam integer dev fd of the directory (the new /dev's mount)
 * @tparam table names ("null", "zero", ...: no slash)
 * @tparam string label the directory's name in messages
 */
static int l_bind_devices(lua_State *L)
{
	int dev = nsbox_check_fd(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	const char *label = luaL_checkstring(L, 3);
	for (lua_Integer i = 1, n = luaL_len(L, 2); i <= n; i++) {
		if (lua_geti(L, 2, i) != LUA_TSTRING)
			return nsbox_fail_msg(L, EINVAL, "bind_devices: names[%d] is not a string", (int)i);
		const char *name = lua_tostring(L, -1);
		if (bind_node(dev, name) < 0)
			return nsbox_fail(L, errno, "mount(/dev/%s, %s/%s)", name, label, name);
		lua_pop(L, 1);
	}
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_devices(lua_State *L)
{
	static const luaL_Reg fns[] = { { "bind_devices", l_bind_devices }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
