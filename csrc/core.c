/* luaopen_nsbox_core: the function table of nsbox.core, gathered from one file per concern. */
#include "common.h"

/** nsbox.core: thin bindings to the Linux calls a container is built from.
 * Every function returns a value (or true) on success and nil, message, errno
 * on failure; a wrong argument type raises.
 * @module nsbox.core
 */
int luaopen_nsbox_core(lua_State *L)
{
	lua_newtable(L);
	nsbox_open_process(L);
	nsbox_open_namespace(L);
	nsbox_open_mount(L);
	nsbox_open_fs(L);
	nsbox_open_resolve(L);
	nsbox_open_lease(L);
	nsbox_open_netdev(L);
	nsbox_open_rtnl(L);
	lua_setfield(L, -2, "rtnl");
	return 1;
}
