/* Unix stream sockets at a name in a directory held open (nsbox attach: the
 * monitor listens in the state directory, an attach connects), reached through
 * /proc/self/fd/N/NAME: the directory checked once, never a path swapped since. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int address(lua_State *L, struct sockaddr_un *a)
{
	int dir = nsbox_check_fd(L, 1);
	const char *name = luaL_checkstring(L, 2);
	luaL_argcheck(L, !strchr(name, '/') && *name, 2, "a name, not a path");
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", dir, name);
	luaL_argcheck(L, n > 0 && (size_t)n < sizeof a->sun_path, 2, "name too long");
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/***
 * A listening Unix socket made at name in the directory dir (mode 0600 by
 * the caller's umask rules: the directory is the caller's private one).
 * @function unix_listen
 * @tparam integer dir
 * @tparam string name
 * @treturn integer the socket (close-on-exec)
 */
static int l_unix_listen(lua_State *L)
{
	struct sockaddr_un a;
	int s = address(L, &a);
	if (s < 0)
		return nsbox_fail(L, errno, "socket");
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) {
		int e = errno;
		close(s);
		return nsbox_fail(L, e, "bind(%s)", lua_tostring(L, 2));
	}
	lua_pushinteger(L, s);
	return 1;
}

/***
 * Connect to the Unix socket at name in the directory dir.
 * @function unix_connect
 * @tparam integer dir
 * @tparam string name
 * @treturn integer the socket (close-on-exec)
 */
static int l_unix_connect(lua_State *L)
{
	struct sockaddr_un a;
	int s = address(L, &a);
	if (s < 0)
		return nsbox_fail(L, errno, "socket");
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(s);
		return nsbox_fail(L, e, "connect(%s)", lua_tostring(L, 2));
	}
	lua_pushinteger(L, s);
	return 1;
}

void nsbox_open_unix(lua_State *L)
{
	static const luaL_Reg fns[] = { { "unix_listen", l_unix_listen }, { "unix_connect", l_unix_connect },
					{ NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
