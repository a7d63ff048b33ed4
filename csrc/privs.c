/* Privileges: prctl (no_new_privs, dumpable, the parent-death signal, the
 * capability bounding set), the inheritable and ambient capability sets, and
 * supplementary groups. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/***
 * prctl(2) with integer arguments.
 * @function prctl
 * @tparam integer option e.g. core.PR_SET_NO_NEW_PRIVS
 * @treturn integer the call's result
 */
static int l_prctl(lua_State *L)
{
	int op = (int)luaL_checkinteger(L, 1);
	unsigned long a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (unsigned long)luaL_optinteger(L, i + 2, 0);
	int r = prctl(op, a[0], a[1], a[2], a[3]);
	if (r < 0)
		return nsbox_fail(L, errno, "prctl(%d)", op);
	lua_pushinteger(L, r);
	return 1;
}

/***
 * Empty the inheritable and ambient capability sets, so that nothing but the
 * bounding set's survivors can come back at exec.
 * @function clear_inheritable
 */
static int l_clear_inheritable(lua_State *L)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return nsbox_fail(L, errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	if (syscall(SYS_capget, &h, d) < 0)
		return nsbox_fail(L, errno, "capget");
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) < 0)
		return nsbox_fail(L, errno, "capset");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Drop every supplementary group (setgroups(2) with none), as a raw syscall
 * for this thread only: the callers are single-threaded set-up processes.
 * EPERM where the user namespace denies setgroups (the kernel's rule for an
 * unprivileged caller's own-id map).
 * @function drop_groups
 */
static int l_drop_groups(lua_State *L)
{
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return nsbox_fail(L, errno, "setgroups(none)");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * setgroups(2) to the gids of a list (the raw system call: this thread's own).
 * @function set_groups
 * @tparam table gids at most 65536 integers
 */
static int l_set_groups(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	luaL_argcheck(L, n <= 65536, 1, "at most 65536 groups");
	gid_t *gids = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(gid_t), 0);
	for (lua_Integer i = 0; i < n; i++) {
		lua_rawgeti(L, 1, i + 1);
		gids[i] = (gid_t)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
	if (syscall(SYS_setgroups, (size_t)n, gids) < 0)
		return nsbox_fail(L, errno, "setgroups(%d groups)", (int)n);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_privs(lua_State *L)
{
	static const luaL_Reg fns[] = { { "prctl", l_prctl }, { "clear_inheritable", l_clear_inheritable },
					{ "drop_groups", l_drop_groups }, { "set_groups", l_set_groups }, { NULL, NULL } };
	static const struct nsbox_const consts[] = {
		{ "PR_SET_PDEATHSIG", PR_SET_PDEATHSIG }, { "PR_GET_PDEATHSIG", PR_GET_PDEATHSIG },
		{ "PR_SET_DUMPABLE", PR_SET_DUMPABLE }, { "PR_GET_DUMPABLE", PR_GET_DUMPABLE },
		{ "PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS }, { "PR_GET_NO_NEW_PRIVS", PR_GET_NO_NEW_PRIVS },
		{ "PR_CAPBSET_DROP", PR_CAPBSET_DROP }, { "PR_CAPBSET_READ", PR_CAPBSET_READ },
		{ "PR_SET_CHILD_SUBREAPER", PR_SET_CHILD_SUBREAPER },
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
