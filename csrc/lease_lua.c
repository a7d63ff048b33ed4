/* Address leases for nsbox.core: a thin binding over lease.c. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "lease.h"

#define DEFAULT_DIR "/run/nsbox/net"

/* The fields both calls share: dir, bridge (required) and owner (required). */
static void common_fields(lua_State *L, const char **dir, const char **bridge, pid_t *owner)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	*dir = nsbox_opt_str_field(L, 1, "dir", DEFAULT_DIR);
	*bridge = nsbox_opt_str_field(L, 1, "bridge", NULL);
	if (!*bridge)
		luaL_error(L, "field 'bridge': string expected, got nil");
	lua_Integer o = nsbox_opt_int_field(L, 1, "owner", 0);
	if (o <= 0 || o > 0x7fffffff)
		luaL_error(L, "field 'owner': a pid expected");
	*owner = (pid_t)o;
}

/* nil, the facts, errno, and the argument they concern (or nothing). */
static int lease_fail(lua_State *L, int err, const char *arg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int lease_fail(lua_State *L, int err, const char *arg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lua_pushnil(L);
	lua_pushstring(L, msg);
	lua_pushinteger(L, err);
	if (!arg)
		return 3;
	lua_pushstring(L, arg);
	return 4;
}

/***
 * Lease an address on a bridge, unique among live owners (flock'ed state under dir).
 * The network, broadcast and gateway addresses are never leased; a lease whose owner
 * died is reclaimed; without `address`, the next free one after the last handed out.
 * The lease records this process's uid (the setuid helper counts leases per uid for
 * a bridge's quota; this call has none).
 * The error is the facts and the argument they concern, for the caller to name as
 * its own field: this layer knows no recipe.
 * @function lease_acquire
 * @tparam table t `dir` (default "/run/nsbox/net"), `bridge`, `gateway` ("10.10.10.1/24"),
 *   `address` (optional "10.10.10.5", or "10.10.10.5/24" with the gateway's prefix),
 *   `owner` (pid of the process the lease lives as long as)
 * @treturn[1] string the address, e.g. "10.10.10.5"
 * @return[2] nil, facts, errno (EINVAL, EADDRINUSE, ENOSPC, ESRCH, ...), and the
 *   argument at fault ("address", "gateway", "bridge"; nil if none in particular):
 *   `nil, "10.10.10.5 is already in use on brg0", EADDRINUSE, "address"`
 */
static int l_lease_acquire(lua_State *L)
{
	const char *dir, *bridge;
	pid_t owner;
	common_fields(L, &dir, &bridge, &owner);
	const char *gw = nsbox_opt_str_field(L, 1, "gateway", NULL);
	const char *want = nsbox_opt_str_field(L, 1, "address", NULL);
	if (!gw)
		luaL_error(L, "field 'gateway': string expected, got nil");
	uint32_t gateway, addr = 0, got;
	int prefix, aprefix = -1;
	if (nsbox_ip4_parse(gw, 1, &gateway, &prefix))
		return lease_fail(L, EINVAL, "gateway", "invalid IPv4 address/prefix '%s'", gw);
	if (want && nsbox_ip4_parse(want, strchr(want, '/') != NULL, &addr, &aprefix))
		return lease_fail(L, EINVAL, "address", "invalid IPv4 address '%s'", want);
	if (aprefix >= 0 && aprefix != prefix)
		return lease_fail(L, EINVAL, "address", "prefix /%d differs from the gateway's /%d",
				  aprefix, prefix);
	struct lease_error e;
	char buf[INET_ADDRSTRLEN];
	if (want && !addr)
		return lease_fail(L, EINVAL, "address", "0.0.0.0 cannot be leased");
	/* recorded as the caller's (root's, for nsbox.net); no quota: the helper's alone */
	int r = lease_acquire(dir, bridge, gateway, prefix, addr, owner, getuid(), 0, &got, &e);
	if (r)
		return lease_fail(L, r, e.arg, "%s", e.msg);
	lua_pushstring(L, nsbox_ip4_format(got, buf));
	return 1;
}

/***
 * Release a lease taken by lease_acquire, if owner holds it.
 * @function lease_release
 * @tparam table t `dir` (default "/run/nsbox/net"), `bridge`, `address` ("10.10.10.5"), `owner` (pid)
 * @treturn boolean true (or nil, message, errno: ENOENT if no lease, EPERM if another owner's)
 */
static int l_lease_release(lua_State *L)
{
	const char *dir, *bridge;
	pid_t owner;
	common_fields(L, &dir, &bridge, &owner);
	const char *s = nsbox_opt_str_field(L, 1, "address", NULL);
	if (!s)
		luaL_error(L, "field 'address': string expected, got nil");
	uint32_t addr;
	int prefix;
	if (nsbox_ip4_parse(s, strchr(s, '/') != NULL, &addr, &prefix))
		return nsbox_fail_msg(L, EINVAL, "lease_release(%s on %s): invalid IPv4 address", s, bridge);
	int r = lease_release(dir, bridge, addr, owner);
	if (r == EPERM)
		return nsbox_fail_msg(L, r, "lease_release(%s on %s): held by another owner", s, bridge);
	if (r)
		return nsbox_fail(L, r, "lease_release(%s on %s)", s, bridge);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_lease(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "lease_acquire", l_lease_acquire }, { "lease_release", l_lease_release }, { NULL, NULL }
	};
	luaL_setfuncs(L, fns, 0);
}
