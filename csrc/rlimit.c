/* Resource limits of a process (prlimit: this one, or a child being set up)
 * and their RLIMIT_* numbers; -1 stands for RLIM_INFINITY both ways. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>

static rlim_t to_rlim(lua_State *L, int arg)
{
	lua_Integer v = luaL_checkinteger(L, arg);
	luaL_argcheck(L, v >= -1, arg, "a limit >= 0, or -1 (unlimited) expected");
	return v < 0 ? RLIM_INFINITY : (rlim_t)v;
}

static void push_rlim(lua_State *L, rlim_t v)
{
	lua_pushinteger(L, v == RLIM_INFINITY ? -1 : (lua_Integer)v);
}

/***
 * setrlimit(2), of this process or (prlimit) of pid.
 * @function setrlimit
 * @tparam integer resource a core.RLIMIT_* number
 * @tparam integer soft -1: unlimited
 * @tparam integer hard -1: unlimited
 * @tparam[opt=0] integer pid
 */
static int l_setrlimit(lua_State *L)
{
	int res = (int)luaL_checkinteger(L, 1);
	struct rlimit rl = { to_rlim(L, 2), to_rlim(L, 3) };
	pid_t pid = (pid_t)luaL_optinteger(L, 4, 0);
	if (prlimit(pid, res, &rl, NULL) < 0)
		return nsbox_fail(L, errno, "setrlimit(%s, %s)", lua_tostring(L, 2), lua_tostring(L, 3));
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * getrlimit(2), of this process or (prlimit) of pid.
 * @function getrlimit
 * @tparam integer resource a core.RLIMIT_* number
 * @tparam[opt=0] integer pid
 * @treturn integer soft (-1: unlimited)
 * @treturn integer hard
 */
static int l_getrlimit(lua_State *L)
{
	int res = (int)luaL_checkinteger(L, 1);
	struct rlimit rl;
	if (prlimit((pid_t)luaL_optinteger(L, 2, 0), res, NULL, &rl) < 0)
		return nsbox_fail(L, errno, "getrlimit(%d)", res);
	push_rlim(L, rl.rlim_cur);
	push_rlim(L, rl.rlim_max);
	return 2;
}

void nsbox_open_rlimit(lua_State *L)
{
	static const luaL_Reg fns[] = { { "setrlimit", l_setrlimit }, { "getrlimit", l_getrlimit }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
	static const struct nsbox_const c[] = {
		{ "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
		{ "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
		{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
		{ "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },
		{ "RLIMIT_RSS", RLIMIT_RSS }, { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
		{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK }, { NULL, 0 }
	};
	nsbox_set_consts(L, c);
}
