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
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
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

static uint32_t ip4_field(lua_State *L, int idx, const char *k, int required)
{
	const char *s = nsbox_opt_str_field(L, idx, k, NULL);
	uint32_t a = 0;
	int ignored;

	if ((s || required) && (!s || nsbox_ip4_parse(s, 0, &a, &ignored) < 0))
		luaL_error(L, "ports: %s: 'a.b.c.d' expected", k);
	return a;
}

static uint16_t port_field(lua_State *L, int idx, const char *k)
{
	lua_Integer v = nsbox_opt_int_field(L, idx, k, 0);

	if (v < 1 || v > 65535)
		luaL_error(L, "ports: %s: a port 1-65535 expected", k);
	return (uint16_t)v;
}

/***
 * Publish ports: DNAT rules in table inet nsbox (made where missing, with the
 * loopback guard and the localhost masquerade), each commented `owner`, in one
 * batch.
 * @function ports_add
 * @tparam table t { owner = comment, lock = path, checked = true (the table, its chains
 *   and fixed rules known to be there: not looked at), ports = { { protocol = "tcp"|"udp",
 *   address = "a.b.c.d" (nil: every local address), host = port, to = "a.b.c.d",
 *   container = port }, ... } }
 * @return true, or nil, message, errno (EEXIST: the table is someone else's)
 */
static int l_ports_add(lua_State *L)
{
	const char *owner, *lock;
	struct nft_port *p;
	struct nl *n;
	int count, err;

	luaL_checktype(L, 1, LUA_TTABLE);
	owner = nsbox_opt_str_field(L, 1, "owner", NULL);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!owner)
		return luaL_error(L, "ports_add: owner expected");
	lua_getfield(L, 1, "ports");
	luaL_checktype(L, -1, LUA_TTABLE);
	count = (int)lua_rawlen(L, -1);
	if (count < 1 || count > 4096)
		return luaL_error(L, "ports_add: 1 to 4096 ports expected");
	p = lua_newuserdatauv(L, (size_t)count * sizeof *p, 0);
	for (int i = 0; i < count; i++) {
		lua_rawgeti(L, -2, i + 1);
		luaL_checktype(L, -1, LUA_TTABLE);
		const char *proto = nsbox_opt_str_field(L, -1, "protocol", "tcp");
		if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return luaL_error(L, "ports_add: protocol: tcp or udp expected");
		p[i].proto = proto[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
		p[i].daddr = ip4_field(L, -1, "address", 0);
		p[i].to = ip4_field(L, -1, "to", 1);
		p[i].dport = port_field(L, -1, "host");
		p[i].toport = port_field(L, -1, "container");
		lua_pop(L, 1);
	}
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_ports_add(n, p, count, owner, lock, nsbox_opt_bool_field(L, 1, "checked", 0))))
		return nft_fail(L, n, err, "publish");
	lua_pushboolean(L, 1);
	return 1;
}

/* Remove the rules commented t.owner (t.lock held) with del: true and how many, or nil, message, errno. */
static int del_by_owner(lua_State *L, int (*del)(struct nl *, const char *, const char *, int *), const char *op)
{
	const char *owner, *lock;
	int removed, err;
	struct nl *n;

	luaL_checktype(L, 1, LUA_TTABLE);
	owner = nsbox_opt_str_field(L, 1, "owner", NULL);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!owner)
		return luaL_error(L, "%s: owner expected", op);
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = del(n, owner, lock, &removed)))
		return nft_fail(L, n, err, op);
	lua_pushboolean(L, 1);
	lua_pushinteger(L, removed);
	return 2;
}

/***
 * Remove the port rules commented `owner`, in one batch.
 * @function ports_del
 * @tparam table t { owner = comment, lock = path }
 * @return true and how many rules went, or nil, message, errno
 */
static int l_ports_del(lua_State *L)
{
	return del_by_owner(L, nft_ports_del, "unpublish");
}

/***
 * Isolate a container: new flows from its address to the host itself and to
 * the given subnets are dropped (rules commented `owner`, in one batch).
 * @function isolate_add
 * @tparam table t { owner = comment, lock = path, address = "a.b.c.d", subnets = { "a.b.c.d/n", ... } }
 * @return true, or nil, message, errno
 */
static int l_isolate_add(lua_State *L)
{
	const char *owner, *lock;
	struct nft_subnet *nets;
	uint32_t addr;
	struct nl *n;
	int count, err;

	luaL_checktype(L, 1, LUA_TTABLE);
	addr = ip4_field(L, 1, "address", 1);
	owner = nsbox_opt_str_field(L, 1, "owner", NULL);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!owner)
		return luaL_error(L, "isolate_add: owner expected");
	lua_getfield(L, 1, "subnets");
	luaL_checktype(L, -1, LUA_TTABLE);
	count = (int)lua_rawlen(L, -1);
	if (count > 1024)
		return luaL_error(L, "isolate_add: at most 1024 subnets");
	nets = lua_newuserdatauv(L, (size_t)(count ? count : 1) * sizeof *nets, 0);
	for (int i = 0; i < count; i++) {
		lua_rawgeti(L, -2, i + 1);
		const char *s = lua_tostring(L, -1);
		if (!s || nsbox_ip4_parse(s, 1, &nets[i].net, &nets[i].prefix) < 0)
			return luaL_error(L, "isolate_add: subnets[%d]: 'a.b.c.d/n' expected", i + 1);
		nets[i].net &= nets[i].prefix ? 0xffffffffu << (32 - nets[i].prefix) : 0;
		lua_pop(L, 1);
	}
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_isolate_add(n, addr, nets, count, owner, lock)))
		return nft_fail(L, n, err, "isolate");
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Remove the isolation rules commented `owner`.
 * @function isolate_del
 * @tparam table t { owner = comment, lock = path }
 * @return true and how many rules went, or nil, message, errno
 */
static int l_isolate_del(lua_State *L)
{
	return del_by_owner(L, nft_isolate_del, "isolate");
}

/* t.mac and t.address, as a guard's: the table's fields must be valid. */
static void guard_fields(lua_State *L, struct nft_guard *g, const char *op)
{
	const char *mac = nsbox_opt_str_field(L, 1, "mac", "");
	int used = 0;

	g->addr = ip4_field(L, 1, "address", 1);
	if (sscanf(mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n", &g->mac[0], &g->mac[1], &g->mac[2], &g->mac[3],
		   &g->mac[4], &g->mac[5], &used) != 6 || mac[used])
		luaL_error(L, "%s: mac: 'xx:xx:xx:xx:xx:xx' expected", op);
}

/***
 * Guard a bridge port against spoofing (table bridge nsbox): what enters the
 * bridge from it passes only as IPv4 from `mac` and `address`, or ARP whose
 * sender is them. Its element of set guards is commented `owner`, made in one
 * batch with what the table misses.
 * @function antispoof_add
 * @tparam table t { port = ifname, mac = "xx:xx:xx:xx:xx:xx", address = "a.b.c.d", owner = comment, lock = path }
 * @return true and the port's ifindex (the element's key, with mac and address), or nil, message, errno
 */
static int l_antispoof_add(lua_State *L)
{
	const char *port, *owner, *lock;
	struct nft_guard g = { 0 };
	struct nl *n;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	guard_fields(L, &g, "antispoof_add");
	port = nsbox_opt_str_field(L, 1, "port", NULL);
	owner = nsbox_opt_str_field(L, 1, "owner", NULL);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!port || !owner)
		return luaL_error(L, "antispoof_add: port and owner expected");
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_antispoof_add(n, port, &g, owner, lock)))
		return nft_fail(L, n, err, "anti-spoofing");
	lua_pushboolean(L, 1);
	lua_pushinteger(L, g.ifindex);
	return 2;
}

/***
 * Remove a port's guard: its element, by its key.
 * @function antispoof_del
 * @tparam table t { index = ifindex, mac = "xx:xx:xx:xx:xx:xx", address = "a.b.c.d", lock = path }
 * @return true and how many elements went (0: gone already), or nil, message, errno
 */
static int l_antispoof_del(lua_State *L)
{
	struct nft_guard g = { 0 };
	const char *lock;
	struct nl *n;
	int removed, err;

	luaL_checktype(L, 1, LUA_TTABLE);
	guard_fields(L, &g, "antispoof_del");
	if (lua_getfield(L, 1, "index") != LUA_TNUMBER || !lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0)
		return luaL_error(L, "antispoof_del: index: an ifindex expected");
	g.ifindex = (uint32_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	lock = nsbox_opt_str_field(L, 1, "lock", NULL);
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_antispoof_del(n, &g, lock, &removed)))
		return nft_fail(L, n, err, "anti-spoofing");
	lua_pushboolean(L, 1);
	lua_pushinteger(L, removed);
	return 2;
}

/***
 * Remove the anti-spoofing of ports whose owner is gone.
 * @function antispoof_sweep
 * @tparam[opt] string lock path
 * @return true and how many ports, or nil, message, errno
 */
static int l_antispoof_sweep(lua_State *L)
{
	const char *lock = luaL_optstring(L, 1, NULL);
	struct nl *n = nft_open(L);
	int removed, err;

	if (!n)
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_antispoof_sweep(n, lock, &removed)))
		return nft_fail(L, n, err, "anti-spoofing sweep");
	lua_pushboolean(L, 1);
	lua_pushinteger(L, removed);
	return 2;
}

static void owner_cb(const char *comment, uint64_t handle, void *data)
{
	lua_State *L = data;

	(void)handle;
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, comment);
}

/***
 * The owners (comments) of the port rules, as a set.
 * @function port_owners
 * @treturn table { [comment] = true }, or nil, message, errno
 */
static int l_port_owners(lua_State *L)
{
	struct nl *n = nft_open(L);
	int err;

	if (!n)
		return nsbox_fail(L, errno, "nftables socket");
	lua_newtable(L);
	if ((err = nft_port_owners(n, owner_cb, L)))
		return nft_fail(L, n, err, "list port rules");
	return 1;
}

/***
 * Forget the conntrack entries whose reply comes from an address.
 * @function ct_forget
 * @tparam string addr "a.b.c.d"
 * @return true and how many, or nil, message, errno
 */
static int l_ct_forget(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	uint32_t a;
	int ignored, forgot, err;
	struct nl *n;

	if (nsbox_ip4_parse(s, 0, &a, &ignored) < 0)
		return luaL_error(L, "ct_forget: 'a.b.c.d' expected");
	if (!(n = nft_open(L)))
		return nsbox_fail(L, errno, "netfilter socket");
	if ((err = nft_ct_forget(n, a, &forgot)))
		return nft_fail(L, n, err, "conntrack");
	lua_pushboolean(L, 1);
	lua_pushinteger(L, forgot);
	return 2;
}

/***
 * The ruleset's generation: every change of any table moves it on.
 * @function genid
 * @return integer, or nil, message, errno
 */
static int l_genid(lua_State *L)
{
	struct nl *n = nft_open(L);
	uint32_t id = 0;
	int err;

	if (!n)
		return nsbox_fail(L, errno, "nftables socket");
	if ((err = nft_genid(n, &id)))
		return nft_fail(L, n, err, "ruleset generation");
	lua_pushinteger(L, id);
	return 1;
}

int luaopen_nsbox_nft(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "masquerade", l_masquerade },
		{ "forward_drops", l_forward_drops },
		{ "ports_add", l_ports_add },
		{ "ports_del", l_ports_del },
		{ "port_owners", l_port_owners },
		{ "ct_forget", l_ct_forget },
		{ "genid", l_genid },
		{ "isolate_add", l_isolate_add },
		{ "isolate_del", l_isolate_del },
		{ "antispoof_add", l_antispoof_add },
		{ "antispoof_del", l_antispoof_del },
		{ "antispoof_sweep", l_antispoof_sweep },
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
