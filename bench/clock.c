/* bench.clock: the benchmarks' timers, kept out of nsbox.core (not shipped):
 * a monotonic clock and the peak RSS. `make bench` builds build/bench/clock.so
 * (require "bench.clock" with package.cpath TOP/build/?.so). */
#define _GNU_SOURCE
#include <lua.h>
#include <lauxlib.h>

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/***
 * Peak resident set size from getrusage(2), in KiB.
 * @function maxrss
 * @tparam[opt="self"] string who "self" or "children" (the largest waited-for child, across its execs)
 * @treturn integer
 */
static int l_maxrss(lua_State *L)
{
	static const char *const whos[] = { "self", "children", NULL };
	int who = luaL_checkoption(L, 1, "self", whos) ? RUSAGE_CHILDREN : RUSAGE_SELF;
	struct rusage ru;
	if (getrusage(who, &ru) < 0)
		return luaL_error(L, "getrusage: %s", strerror(errno));
	lua_pushinteger(L, ru.ru_maxrss);
	return 1;
}

/***
 * clock_gettime(CLOCK_MONOTONIC) in seconds, for timing.
 * @function clock
 * @treturn number
 */
static int l_clock(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

int luaopen_bench_clock(lua_State *L)
{
	static const luaL_Reg fns[] = { { "clock", l_clock }, { "maxrss", l_maxrss }, { NULL, NULL } };
	luaL_newlib(L, fns);
	return 1;
}
