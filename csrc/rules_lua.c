/* The rules of plain C that Lua shares with the C layer and the setuid helper,
 * bound for nsbox.core (not nsbox.rtnl: recipe checks must not load libmnl):
 * interface names, IPv4 addresses, process start times, random hex ids. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "ifname.h"
#include "randhex.h"
#include "starttime.h"

/***
 * Whether a string is a valid interface name, by the kernel's rule: 1 to 15
 * bytes, not "." or "..", no '/', ':', whitespace or NUL.
 * @function ifname_ok
 * @tparam string name
 * @treturn boolean
 */
static int l_ifname_ok(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_pushboolean(L, nsbox_ifname_ok(s, len));
	return 1;
}

/***
 * Parse an IPv4 address, with or without a prefix length ("10.0.0.2",
 * "10.0.0.2/24"; dotted quad, no leading zeros, length 0 to 32).
 * @function ip4_parse
 * @tparam string s
 * @treturn[1] integer the address (host byte order: 10.0.0.2 is 0x0a000002)
 * @treturn[1] integer|nil the prefix length, nil if none was given
 * @return[2] nil, "ip4_parse: invalid IPv4 address 's'", EINVAL
 */
static int l_ip4_parse(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	int has_len = strchr(s, '/') != NULL, prefix = 0;
	uint32_t addr;

	if (strlen(s) != len || nsbox_ip4_parse(s, has_len, &addr, &prefix) < 0)
		return nsbox_fail_msg(L, EINVAL, "ip4_parse: invalid IPv4 address '%s'", s);
	lua_pushinteger(L, addr);
	if (has_len)
		lua_pushinteger(L, prefix);
	else
		lua_pushnil(L);
	return 2;
}

/***
 * The start time of a process (field 22 of /proc/PID/stat, clock ticks after
 * boot): with the pid, it names one process, not a later one given the pid.
 * @function starttime
 * @tparam integer pid
 * @treturn[1] integer
 * @return[2] nil, "starttime(PID): not running", ESRCH (also for a zombie)
 */
static int l_starttime(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	unsigned long long start;

	if (pid <= 0 || pid > 0x7fffffff || nsbox_starttime((pid_t)pid, &start) < 0)
		return nsbox_fail_msg(L, ESRCH, "starttime(%lld): not running", (long long)pid);
	lua_pushinteger(L, (lua_Integer)start);
	return 1;
}

/***
 * Random bytes (getrandom) as lowercase hex: ids and interface names.
 * @function random_hex
 * @tparam integer nbytes 1 to 64
 * @treturn string 2 * nbytes hex digits
 */
static int l_random_hex(lua_State *L)
{
	lua_Integer n = luaL_checkinteger(L, 1);
	char out[2 * 64 + 1];
	int e;

	luaL_argcheck(L, n >= 1 && n <= 64, 1, "1 to 64 bytes");
	if ((e = nsbox_random_hex(out, (size_t)n)))
		return nsbox_fail(L, e, "random_hex: getrandom");
	lua_pushstring(L, out);
	return 1;
}

void nsbox_open_rules(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "ifname_ok", l_ifname_ok }, { "ip4_parse", l_ip4_parse },
		{ "starttime", l_starttime }, { "random_hex", l_random_hex }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
