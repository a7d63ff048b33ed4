/* luaopen_nsbox_core: the function table of nsbox.core, gathered from one file per concern. */
#include "common.h"

#include <string.h>

/** nsbox.core: thin bindings to the Linux calls a container is built from.
 * Every function returns a value (or true) on success and nil, message, errno
 * on failure; a wrong argument type raises.
 * @module nsbox.core
 */
/* core.rtnl on first use: require "nsbox.rtnl", a module of its own so that
 * libmnl is loaded only by a process that does netlink (0.5 ms of a start). */
static int core_index(lua_State *L)
{
	if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "rtnl") != 0)
		return 0;
	lua_getglobal(L, "require");
	lua_pushliteral(L, "nsbox.rtnl");
	lua_call(L, 1, 1);
	lua_pushvalue(L, -1);
	lua_setfield(L, 1, "rtnl");
	return 1;
}

int luaopen_nsbox_core(lua_State *L)
{
	lua_newtable(L);
	nsbox_open_spawn(L);
	nsbox_open_wait(L);
	nsbox_open_fdio(L);
	nsbox_open_privs(L);
	nsbox_open_environ(L);
	nsbox_open_errno(L);
	nsbox_open_namespace(L);
	nsbox_open_mount(L);
	nsbox_open_fs(L);
	nsbox_open_dirat(L);
	nsbox_open_resolve(L);
	nsbox_open_lease(L);
	nsbox_open_netdev(L);
	nsbox_open_garp(L);
	nsbox_open_rules(L);
	nsbox_open_keyring(L);
	nsbox_open_mask(L);
	nsbox_open_devices(L);
	nsbox_open_overlay(L);
	nsbox_open_idmapped(L);
	nsbox_open_seccomp(L);
	nsbox_open_cgroup(L);
	nsbox_open_rlimit(L);
	nsbox_open_pty(L);
	nsbox_open_unix(L);
	nsbox_open_inet(L);
	lua_newtable(L);
	lua_pushcfunction(L, core_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	return 1;
}
