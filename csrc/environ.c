/* This process's ids and environment: getpid, getuid, getgid, geteuid,
 * environ, setenv. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

#define ID_GETTER(fn)                              \
	static int l_##fn(lua_State *L)            \
	{                                          \
		lua_pushinteger(L, (lua_Integer)fn()); \
		return 1;                          \
	}
/*** getpid(2).
 * @function getpid */
ID_GETTER(getpid)
/*** getuid(2).
 * @function getuid */
ID_GETTER(getuid)
/*** getgid(2).
 * @function getgid */
ID_GETTER(getgid)
/*** geteuid(2).
 * @function geteuid */
ID_GETTER(geteuid)

/***
 * This process's environment.
 * @function environ
 * @treturn table array of "K=V"
 */
static int l_environ(lua_State *L)
{
	lua_newtable(L);
	for (int i = 0; environ[i]; i++) {
		lua_pushstring(L, environ[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/***
 * setenv(3), or unsetenv(3) when value is nil.
 * @function setenv
 * @tparam string name
 * @tparam[opt] string value
 */
static int l_setenv(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *value = luaL_optstring(L, 2, NULL);
	if ((value ? setenv(name, value, 1) : unsetenv(name)) < 0)
		return nsbox_fail(L, errno, "setenv(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_environ(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "getpid", l_getpid }, { "getuid", l_getuid }, { "getgid", l_getgid }, { "geteuid", l_geteuid },
		{ "environ", l_environ }, { "setenv", l_setenv }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
