/* errno values as named constants (core.ENOENT, ...), so that the Lua layer
 * compares errors by name, and strerror for an errno that came as a number. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <string.h>

/***
 * strerror(3): the message of an errno value.
 * @function strerror
 * @tparam integer errno
 * @treturn string e.g. "No such file or directory"
 */
static int l_strerror(lua_State *L)
{
	lua_pushstring(L, strerror((int)luaL_checkinteger(L, 1)));
	return 1;
}

void nsbox_open_errno(lua_State *L)
{
	static const luaL_Reg fns[] = { { "strerror", l_strerror }, { NULL, NULL } };
#define E(name) { #name, name }
	static const struct nsbox_const consts[] = {
		E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(EBADF), E(EAGAIN), E(ENOMEM),
		E(EACCES), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL),
		E(EMFILE), E(ENOSPC), E(EPIPE), E(EROFS), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY),
		E(ELOOP), E(EPROTO), E(EMSGSIZE), E(ENOTSOCK), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ESTALE),
		E(EAFNOSUPPORT),
		{ NULL, 0 }
	};
#undef E
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
