/** nsbox's nftables table, inet nsbox (nft.c): a module of its own, loaded on
 * first use, so that only a process that sets up egress loads libnftnl.
 * On failure: nil, message, errno (the message carries the kernel's
 * extended-ack text when it gives one); a wrong argument type raises.
 * @module nsbox.nft
 */
#include "common.h"
#include "addr.h"
#include "nft.h"

#include <errno.h>
#include <string.h>
#include <linux/netlink.h>

#define NFT_MT "nsbox.nft.socket"

static int nl_gc(lua_State *L)
{
	nl_close(luaL_checkudata(L, 1, NFT_MT));
	return 0;
}

/* A NETLINK_NETFILTER socket, closed when the calling function returns
 * (to-be-closed on the stack). NULL with errno. */
static struct nl *nft_open(lua_State *L)
{
	struct nl *n = lua_newuserdatauv(L, sizeof *n, 0);
	int e;

	n->sock = NULL;
	n->seq = 0;
	luaL_setmetatable(L, NFT_MT);
	lua_toclose(L, -1);
	if ((e = nl_open_proto(n, NETLINK_NETFILTER))) {
		errno = e;
		return NULL;
	}
	return n;
}

static int nft_fail(lua_State *L, struct nl *n, int err, const char *op)
{
	if (n->ext[0])
		return nsbox_fail_msg(L, err, "%s: %s", op, n->ext);
	return nsbox_fail(L, err, "%s", op);
}

/***
 * Masquerade what leaves an IPv4 subnet for anywhere else, in table inet nsbox
 * (made, with its nat postrouting chain, where missing; a table of that name
 * that nsbox did not make is refused: EEXIST, nothing made).
 * @function masquerade
 * @tparam table t { subnet = "a.b.c.d/n", lock = path (an flock held meanwhile) }
 * @treturn boolean true, and whether this call added the rule; or nil, message, errno
 */
static int l_masquerade(lua_State *L)
{
	const char *subnet, *lock;
	uint32_t net;
	int prefix, added = 0, err;
	struct nl *n;

	luaL_checktype(L, 1, LUA_TTABLE);
	subnet = nsbox_opt_str_field(L, 1, "subnet", NULL);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!subnet || nsbox_ip4_parse(subnet, 1, &net, &prefix) < 0)
		return luaL_error(L, "masquerade: subnet 'a.b.c.d/n' expected");
	net &= prefix ? 0xffffffffu << (32 - prefix) : 0;
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_masquerade(n, net, prefix, lock, &added)))
		return nft_fail(L, n, err, "masquerade");
	lua_pushboolean(L, 1);
	lua_pushboolean(L, added);
	return 2;
}

static void drop_cb(const char *family, const char *table, const char *chain, void *data)
{
	lua_State *L = data;

	lua_pushfstring(L, "%s %s %s", family, table, chain);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/***
 * The base chains on the forward hook with policy drop, in tables other than
 * nsbox's: they drop what nsbox's rules would let through.
 * @function forward_drops
 * @treturn table { "family table chain", ... } or nil, message, errno
 */
static int l_forward_drops(lua_State *L)
{
	struct nl *n = nft_open(L);
	int err;

	if (!n)
		return nsbox_fail(L, errno, "nftables socket");
	lua_newtable(L);
	if ((err = nft_forward_drops(n, drop_cb, L)))
		return nft_fail(L, n, err, "list chains");
	return 1;
}

int luaopen_nsbox_nft(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "masquerade", l_masquerade },
		{ "forward_drops", l_forward_drops },
		{ NULL, NULL },
	};

	if (luaL_newmetatable(L, NFT_MT)) {
		lua_pushcfunction(L, nl_gc);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, nl_gc);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}
