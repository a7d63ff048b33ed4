/* rtnetlink over libmnl, part two: addresses, routes and neighbour entries
 * (see rtnl.c; the neighbour requests themselves are in rtnl_neigh.c). */
#include "common.h"
#include "rtnl.h"
#include "rtnl_neigh.h"
#include "addr.h"

/*** @module nsbox.core.rtnl */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

/* ---- prefixes ------------------------------------------------------------ */

struct prefix {
	int family;            /* AF_INET, AF_INET6; AF_UNSPEC for "default" */
	unsigned int len;      /* prefix length */
	unsigned char addr[16];
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "inet" : "inet6";
}

/* "10.0.0.2/24", "fd00::2/64", or an address alone (a host prefix);
 * with_len = 0 takes an address alone. 0 or -1 (addr.c has the rule). */
static int parse_prefix(const char *s, struct prefix *p, int with_len)
{
	struct nsbox_prefix np;

	if (nsbox_prefix_parse(s, with_len, &np) < 0)
		return -1;
	p->family = np.family;
	memcpy(p->addr, np.addr, sizeof p->addr);
	p->len = np.len < 0 ? 8 * (unsigned int)addr_len(p->family) : (unsigned int)np.len;
	return 0;
}

/* Read family = "inet" | "inet6" of the table at idx: AF_UNSPEC if absent,
 * -1 if unknown. */
static int opt_family(lua_State *L, int idx)
{
	const char *f = nsbox_opt_str_field(L, idx, "family", NULL);

	if (!f)
		return AF_UNSPEC;
	if (strcmp(f, "inet") == 0)
		return AF_INET;
	if (strcmp(f, "inet6") == 0)
		return AF_INET6;
	return -1;
}

static void set_addr(lua_State *L, const char *k, int family, const void *a)
{
	char s[INET6_ADDRSTRLEN];

	if (inet_ntop(family, a, s, sizeof s)) {
		lua_pushstring(L, s);
		lua_setfield(L, -2, k);
	}
}

static void set_scope(lua_State *L, unsigned int scope)
{
	switch (scope) {
	case RT_SCOPE_UNIVERSE: lua_pushliteral(L, "global"); break;
	case RT_SCOPE_SITE: lua_pushliteral(L, "site"); break;
	case RT_SCOPE_LINK: lua_pushliteral(L, "link"); break;
	case RT_SCOPE_HOST: lua_pushliteral(L, "host"); break;
	case RT_SCOPE_NOWHERE: lua_pushliteral(L, "nowhere"); break;
	default: lua_pushinteger(L, scope); break;
	}
	lua_setfield(L, -2, "scope");
}


static void set_dev(const struct dump *d, int index)
{
	lua_pushinteger(d->L, index);
	lua_setfield(d->L, -2, "index");
	if (lua_rawgeti(d->L, d->names, index) == LUA_TSTRING)
		lua_setfield(d->L, -2, "name");
	else
		lua_pop(d->L, 1);
}

/* ---- addresses ----------------------------------------------------------- */

/* addr_add and addr_del: one RTM_NEWADDR or RTM_DELADDR. */
static int addr_change(lua_State *L, uint16_t type, const char *op)
{
	struct rtnl_link l;
	struct prefix p, brd = { .family = AF_UNSPEC };
	const char *addr;
	int nodad, exist_ok, ifindex, err;
	struct rtnl *r;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	luaL_checktype(L, 1, LUA_TTABLE);
	err = rtnl_check_link(L, 1, &l, 1);
	addr = nsbox_opt_str_field(L, 1, "address", NULL);
	luaL_argcheck(L, addr != NULL, 1, "field 'address' (string) expected");
	nodad = nsbox_opt_bool_field(L, 1, "nodad", 0);
	exist_ok = nsbox_opt_bool_field(L, 1, "exist_ok", 0);
	switch (lua_getfield(L, 1, "broadcast")) {
	case LUA_TNIL:
		break;
	case LUA_TBOOLEAN:      /* true: computed, like `brd +` */
		brd.family = lua_toboolean(L, -1) ? AF_INET : AF_UNSPEC;
		brd.len = 0;
		break;
	case LUA_TSTRING:
		if (parse_prefix(lua_tostring(L, -1), &brd, 0) < 0 || brd.family != AF_INET)
			return nsbox_fail_msg(L, EINVAL, "%s(%s on %s): invalid broadcast '%s'",
					      op, addr, l.label, lua_tostring(L, -1));
		brd.len = 32;
		break;
	default:
		return luaL_error(L, "field 'broadcast': string or boolean expected, got %s",
				  luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	if (err)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid interface name '%s'", op, l.name);
	if (parse_prefix(addr, &p, 1) < 0)
		return nsbox_fail_msg(L, EINVAL, "%s(%s): invalid address '%s'", op, l.label, addr);
	if (brd.family != AF_UNSPEC && p.family != AF_INET)
		return nsbox_fail_msg(L, EINVAL, "%s(%s on %s): broadcast is for IPv4", op, addr, l.label);
	if (brd.family != AF_UNSPEC && brd.len == 0) {
		uint32_t a, mask = p.len ? htonl(~0u << (32 - p.len)) : 0;
		memcpy(&a, p.addr, 4);
		a |= ~mask;
		memcpy(brd.addr, &a, 4);
	}

	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "%s(%s on %s): netlink socket", op, addr, l.label);
	if ((err = rtnl_ifindex(r, &l, &ifindex)))
		goto out;
	nlh = nl_msg(&r->nl, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof *ifa);
	ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = (unsigned char)p.family;
	ifa->ifa_prefixlen = (unsigned char)p.len;
	ifa->ifa_index = (unsigned int)ifindex;
	/* Like ip: loopback addresses are of host scope. */
	ifa->ifa_scope = p.family == AF_INET && p.addr[0] == 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(p.family), p.addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(p.family), p.addr);
	if (brd.family != AF_UNSPEC)
		mnl_attr_put(nlh, IFA_BROADCAST, 4, brd.addr);
	if (nodad)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	err = nl_talk(&r->nl, nlh, NULL, NULL);
	if (err == EEXIST && exist_ok)
		err = 0;
out:
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "%s(%s on %s)", op, addr, l.label);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Add an address to a link (`ip addr add`).
 * One request; with the link named by `name`, a lookup of its ifindex before
 * it (RTM_NEWADDR takes only an ifindex).
 * @function addr_add
 * @tparam table t `name` or `index`, `address` ("10.10.10.2/24",
 *   "fd00::2/64"; no length: a host address), optional `broadcast` (IPv4: an
 *   address, or true to compute it), `nodad` (IPv6: skip duplicate address
 *   detection), `exist_ok` (the address already there is not an error: the
 *   kernel's EEXIST, no re-query)
 * @treturn[1] true
 * @return[2] nil, message, errno: `addr_add(10.10.10.2/24 on eth0): File exists`
 */
static int l_addr_add(lua_State *L)
{
	return addr_change(L, RTM_NEWADDR, "addr_add");
}

/*** Remove an address from a link (`ip addr del`).
 * One request; with the link named by `name`, a lookup of its ifindex before it.
 * @function addr_del
 * @tparam table t `name` or `index`, `address` (with its prefix length)
 * @treturn[1] true
 * @return[2] nil, message, errno: `addr_del(10.10.10.2/24 on eth0): Cannot assign requested address`
 */
static int l_addr_del(lua_State *L)
{
	return addr_change(L, RTM_DELADDR, "addr_del");
}

static int addrs_cb(const struct nlmsghdr *nlh, void *data)
{
	static const uint8_t policy[IFA_MAX + 1] = {
		[IFA_FLAGS] = MNL_TYPE_U32,
	};
	struct dump *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1], *a;
	size_t alen;
	char s[INET6_ADDRSTRLEN];

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ifa ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
	    (d->index && (int)ifa->ifa_index != d->index))
		return MNL_CB_OK;
	alen = addr_len(ifa->ifa_family);
	rtnl_attrs(nlh, sizeof *ifa, NULL, tb, IFA_MAX, policy);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != alen ||
	    !inet_ntop(ifa->ifa_family, mnl_attr_get_payload(a), s, sizeof s))
		return MNL_CB_OK;
	lua_createtable(d->L, 0, 9);
	set_dev(d, (int)ifa->ifa_index);
	lua_pushstring(d->L, family_name(ifa->ifa_family));
	lua_setfield(d->L, -2, "family");
	lua_pushstring(d->L, s);
	lua_setfield(d->L, -2, "address");
	lua_pushinteger(d->L, ifa->ifa_prefixlen);
	lua_setfield(d->L, -2, "prefixlen");
	lua_pushfstring(d->L, "%s/%d", s, (int)ifa->ifa_prefixlen);
	lua_setfield(d->L, -2, "cidr");
	if (tb[IFA_BROADCAST] && mnl_attr_get_payload_len(tb[IFA_BROADCAST]) == alen)
		set_addr(d->L, "broadcast", ifa->ifa_family, mnl_attr_get_payload(tb[IFA_BROADCAST]));
	set_scope(d->L, ifa->ifa_scope);
	lua_pushinteger(d->L, tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags);
	lua_setfield(d->L, -2, "flags");
	lua_rawseti(d->L, d->array, ++d->n);
	return MNL_CB_OK;
}

/*** List addresses (`ip addr show`).
 * Three requests at most: the ifindex of a link named by `name`, a dump of
 * the links (for the `name` of each address), and the address dump (of every
 * link: filtered here).
 * @function addrs
 * @tparam[opt] table t `name` or `index` (only this link), `family`
 *   ("inet" or "inet6")
 * @treturn[1] {table,...} `index`, `name`, `family`, `address` ("10.10.10.2"),
 *   `prefixlen` (24), `cidr` ("10.10.10.2/24"), `broadcast` (IPv4, if any),
 *   `scope` ("global", "link", "host", ...), `flags` (IFA_F_* bits)
 * @return[2] nil, message, errno: `addrs(eth9): No such device`
 */
static int l_addrs(lua_State *L)
{
	struct rtnl_link l = { .name = NULL };
	struct dump d = { .L = L };
	struct rtnl *r;
	struct nlmsghdr *nlh;
	int err = 0;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		err = rtnl_check_link(L, 1, &l, 0);
		d.family = opt_family(L, 1);
	}
	if (err)
		return nsbox_fail_msg(L, EINVAL, "addrs: invalid interface name '%s'", l.name);
	if (d.family < 0)
		return nsbox_fail_msg(L, EINVAL, "addrs: unknown family (\"inet\" or \"inet6\")");
	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "addrs: netlink socket");
	if (l.name || l.index) {
		if ((err = rtnl_ifindex(r, &l, &d.index)))
			goto out;
	}
	if ((err = rtnl_push_names(r)))
		goto out;
	d.names = lua_gettop(L);
	lua_newtable(L);
	nlh = nl_msg(&r->nl, RTM_GETADDR, 0, sizeof(struct ifaddrmsg));
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family = (unsigned char)d.family;
	err = rtnl_dump(r, &d, nlh, addrs_cb);
out:
	rtnl_close(r);
	if (err)
		return l.label[0] ? rtnl_fail(L, r, err, "addrs(%s)", l.label)
				  : rtnl_fail(L, r, err, "addrs");
	return 1;
}

/* ---- routes -------------------------------------------------------------- */

/* route_add and route_del: one RTM_NEWROUTE or RTM_DELROUTE. */
static int route_change(lua_State *L, uint16_t type, const char *op)
{
	struct rtnl_link l;
	struct prefix dst, gw = { .family = AF_UNSPEC };
	const char *dsts, *gws;
	lua_Integer table, metric;
	int family, exist_ok, ifindex = 0, err;
	char what[160];
	struct rtnl *r;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	luaL_checktype(L, 1, LUA_TTABLE);
	err = rtnl_check_link(L, 1, &l, 0);
	dsts = nsbox_opt_str_field(L, 1, "dst", NULL);
	luaL_argcheck(L, dsts != NULL, 1, "field 'dst' (string) expected");
	gws = nsbox_opt_str_field(L, 1, "gateway", NULL);
	table = nsbox_opt_int_field(L, 1, "table", RT_TABLE_MAIN);
	metric = nsbox_opt_int_field(L, 1, "metric", -1);
	exist_ok = nsbox_opt_bool_field(L, 1, "exist_ok", 0);
	family = opt_family(L, 1);
	snprintf(what, sizeof what, "%s(%s%s%s%s%s)", op, dsts, gws ? " via " : "", gws ? gws : "",
		 l.label[0] ? " dev " : "", l.label);
	if (err)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid interface name '%s'", what, l.name);
	if (family < 0)
		return nsbox_fail_msg(L, EINVAL, "%s: unknown family (\"inet\" or \"inet6\")", what);
	if (strcmp(dsts, "default") == 0)
		dst = (struct prefix){ .family = AF_UNSPEC, .len = 0 };
	else if (parse_prefix(dsts, &dst, 1) < 0)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid destination '%s'", what, dsts);
	if (gws && parse_prefix(gws, &gw, 0) < 0)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid gateway '%s'", what, gws);
	if (dst.family == AF_UNSPEC)
		dst.family = gw.family != AF_UNSPEC ? gw.family : family != AF_UNSPEC ? family : AF_INET;
	if ((gws && gw.family != dst.family) || (family != AF_UNSPEC && family != dst.family))
		return nsbox_fail_msg(L, EINVAL, "%s: mixed address families", what);
	if (table <= 0 || table > 0xffffffff)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid table %lld", what, (long long)table);
	if (metric < -1 || metric > 0xffffffff)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid metric %lld", what, (long long)metric);
	if (type == RTM_NEWROUTE && !gws && !l.label[0])
		return nsbox_fail_msg(L, EINVAL, "%s: a gateway or a device is needed", what);

	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "%s: netlink socket", what);
	if (l.label[0] && (err = rtnl_ifindex(r, &l, &ifindex)))
		goto out;
	nlh = nl_msg(&r->nl, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof *rtm);
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = (unsigned char)dst.family;
	rtm->rtm_dst_len = (unsigned char)dst.len;
	rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	/* The scopes ip chooses: a route through a device alone is on-link. */
	if (type == RTM_NEWROUTE) {
		rtm->rtm_protocol = RTPROT_BOOT;
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_scope = gws || dst.family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	} else {
		rtm->rtm_scope = dst.family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
	}
	if (dst.len)
		mnl_attr_put(nlh, RTA_DST, addr_len(dst.family), dst.addr);
	if (gws)
		mnl_attr_put(nlh, RTA_GATEWAY, addr_len(gw.family), gw.addr);
	if (ifindex)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	if (metric != -1)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, (uint32_t)metric);
	mnl_attr_put_u32(nlh, RTA_TABLE, (uint32_t)table);
	err = nl_talk(&r->nl, nlh, NULL, NULL);
	if (err == EEXIST && exist_ok)
		err = 0;
out:
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "%s", what);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Add a route (`ip route add`).
 * One request; with the device named by `name`, a lookup of its ifindex before
 * it (RTA_OIF takes only an ifindex).
 * @function route_add
 * @tparam table t `dst` ("default", "10.0.0.0/8", "fd00::/64"), and a
 *   `gateway` ("10.10.10.1") or a device (`name` or `index`) or both;
 *   optional `table` (default main), `metric`, `family` ("inet6" for an IPv6
 *   default route through a device alone), `exist_ok` (the kernel's EEXIST is
 *   not an error: no re-query)
 * @treturn[1] true
 * @return[2] nil, message, errno: `route_add(default via 10.9.9.1): Network is unreachable (Nexthop has invalid gateway)`
 */
static int l_route_add(lua_State *L)
{
	return route_change(L, RTM_NEWROUTE, "route_add");
}

/*** Delete a route (`ip route del`).
 * One request; with the device named by `name`, a lookup of its ifindex before it.
 * @function route_del
 * @tparam table t as for `route_add`; the gateway and device are optional
 * @treturn[1] true
 * @return[2] nil, message, errno: `route_del(10.0.0.0/8): No such process`
 */
static int l_route_del(lua_State *L)
{
	return route_change(L, RTM_DELROUTE, "route_del");
}

static int routes_cb(const struct nlmsghdr *nlh, void *data)
{
	static const uint8_t policy[RTA_MAX + 1] = {
		[RTA_OIF] = MNL_TYPE_U32, [RTA_PRIORITY] = MNL_TYPE_U32,
		[RTA_TABLE] = MNL_TYPE_U32,
	};
	static const char *const types[] = {
		"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
		"blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve",
	};
	struct dump *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1];
	long long table;
	size_t alen;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof *rtm ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	alen = addr_len(rtm->rtm_family);
	rtnl_attrs(nlh, sizeof *rtm, NULL, tb, RTA_MAX, policy);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (d->table && table != d->table)
		return MNL_CB_OK;
	lua_createtable(d->L, 0, 11);
	lua_pushstring(d->L, family_name(rtm->rtm_family));
	lua_setfield(d->L, -2, "family");
	if (rtm->rtm_dst_len == 0 || !tb[RTA_DST] || mnl_attr_get_payload_len(tb[RTA_DST]) != alen) {
		lua_pushliteral(d->L, "default");
	} else {
		char s[INET6_ADDRSTRLEN];
		if (!inet_ntop(rtm->rtm_family, mnl_attr_get_payload(tb[RTA_DST]), s, sizeof s))
			s[0] = '\0';
		lua_pushfstring(d->L, "%s/%d", s, (int)rtm->rtm_dst_len);
	}
	lua_setfield(d->L, -2, "dst");
	if (tb[RTA_GATEWAY] && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == alen)
		set_addr(d->L, "gateway", rtm->rtm_family, mnl_attr_get_payload(tb[RTA_GATEWAY]));
	if (tb[RTA_PREFSRC] && mnl_attr_get_payload_len(tb[RTA_PREFSRC]) == alen)
		set_addr(d->L, "prefsrc", rtm->rtm_family, mnl_attr_get_payload(tb[RTA_PREFSRC]));
	if (tb[RTA_OIF])
		set_dev(d, (int)mnl_attr_get_u32(tb[RTA_OIF]));
	lua_pushinteger(d->L, table);
	lua_setfield(d->L, -2, "table");
	lua_pushinteger(d->L, tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0);
	lua_setfield(d->L, -2, "metric");
	lua_pushinteger(d->L, rtm->rtm_protocol);
	lua_setfield(d->L, -2, "protocol");
	set_scope(d->L, rtm->rtm_scope);
	if (rtm->rtm_type < MNL_ARRAY_SIZE(types))
		lua_pushstring(d->L, types[rtm->rtm_type]);
	else
		lua_pushinteger(d->L, rtm->rtm_type);
	lua_setfield(d->L, -2, "type");
	lua_rawseti(d->L, d->array, ++d->n);
	return MNL_CB_OK;
}

/*** List routes (`ip route show`; the main table unless told).
 * Two requests: a dump of the links (for the device `name` of each route),
 * then the route dump.
 * @function routes
 * @tparam[opt] table t `family` ("inet" or "inet6"), `table` (a table id;
 *   0 for all tables; default main; filtered here)
 * @treturn[1] {table,...} `family`, `dst` ("default", "10.0.0.0/8"), `gateway`,
 *   `index` and `name` of the device, `table`, `metric`, `protocol` (RTPROT_*),
 *   `scope` ("global", "link", ...), `type` ("unicast", "local", ...), `prefsrc`
 * @return[2] nil, message, errno
 */
static int l_routes(lua_State *L)
{
	struct dump d = { .L = L, .table = RT_TABLE_MAIN };
	struct rtnl *r;
	struct nlmsghdr *nlh;
	int err;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		d.family = opt_family(L, 1);
		d.table = nsbox_opt_int_field(L, 1, "table", RT_TABLE_MAIN);
	}
	if (d.family < 0)
		return nsbox_fail_msg(L, EINVAL, "routes: unknown family (\"inet\" or \"inet6\")");
	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "routes: netlink socket");
	if ((err = rtnl_push_names(r)))
		goto out;
	d.names = lua_gettop(L);
	lua_newtable(L);
	nlh = nl_msg(&r->nl, RTM_GETROUTE, 0, sizeof(struct rtmsg));
	((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_family = (unsigned char)d.family;
	err = rtnl_dump(r, &d, nlh, routes_cb);
out:
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "routes");
	return 1;
}

/* ---- neighbour entries --------------------------------------------------- */

/* neigh_set and neigh_del: one RTM_NEWNEIGH or RTM_DELNEIGH (rtnl_neigh.c). */
static int neigh_change(lua_State *L, int set, const char *op)
{
	struct rtnl_link l;
	struct prefix p;
	const char *addr, *lls = NULL;
	unsigned char ll[32];
	int lllen = 0, ifindex, err;
	struct rtnl *r;

	luaL_checktype(L, 1, LUA_TTABLE);
	err = rtnl_check_link(L, 1, &l, 1);
	addr = nsbox_opt_str_field(L, 1, "address", NULL);
	luaL_argcheck(L, addr != NULL, 1, "field 'address' (string) expected");
	if (set) {
		lls = nsbox_opt_str_field(L, 1, "lladdr", NULL);
		luaL_argcheck(L, lls != NULL, 1, "field 'lladdr' (string) expected");
	}
	if (err)
		return nsbox_fail_msg(L, EINVAL, "%s: invalid interface name '%s'", op, l.name);
	if (parse_prefix(addr, &p, 0) < 0)
		return nsbox_fail_msg(L, EINVAL, "%s(%s): invalid address '%s'", op, l.label, addr);
	if (set && (lllen = rtnl_parse_mac(lls, ll, sizeof ll)) < 0)
		return nsbox_fail_msg(L, EINVAL, "%s(%s on %s): invalid lladdr '%s'", op, addr, l.label, lls);

	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "%s(%s on %s): netlink socket", op, addr, l.label);
	if (!(err = rtnl_ifindex(r, &l, &ifindex)))
		err = set ? nl_neigh_set(&r->nl, ifindex, p.family, p.addr, ll, (size_t)lllen)
			  : nl_neigh_del(&r->nl, ifindex, p.family, p.addr);
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "%s(%s on %s)", op, addr, l.label);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Set the neighbour (ARP) entry of an address (`ip neigh replace ... nud stale`).
 * Made if missing, its link-layer address replaced if not; left in state
 * stale, as a gratuitous ARP leaves it (used at once, confirmed by the kernel
 * as usual). One request; with the link named by `name`, a lookup of its
 * ifindex before it.
 * @function neigh_set
 * @tparam table t `name` or `index` (the link the address is reached on),
 *   `address` ("10.10.10.2", "fd00::2"; no prefix), `lladdr`
 *   ("02:00:00:00:00:01")
 * @treturn[1] true
 * @return[2] nil, message, errno: `neigh_set(10.10.10.2 on brg0): No such device`
 */
static int l_neigh_set(lua_State *L)
{
	return neigh_change(L, 1, "neigh_set");
}

/*** Delete the neighbour entry of an address (`ip neigh del`): the next
 * packet to it asks afresh.
 * One request; with the link named by `name`, a lookup of its ifindex before it.
 * @function neigh_del
 * @tparam table t `name` or `index`, `address` (no prefix)
 * @treturn[1] true
 * @return[2] nil, message, errno: `neigh_del(10.10.10.2 on brg0): No such file or directory`
 *   (no entry: errno ENOENT)
 */
static int l_neigh_del(lua_State *L)
{
	return neigh_change(L, 0, "neigh_del");
}

const luaL_Reg nsbox_rtnl_addr_funcs[] = {
	{ "addr_add", l_addr_add },
	{ "addr_del", l_addr_del },
	{ "addrs", l_addrs },
	{ "route_add", l_route_add },
	{ "route_del", l_route_del },
	{ "routes", l_routes },
	{ "neigh_set", l_neigh_set },
	{ "neigh_del", l_neigh_del },
	{ NULL, NULL }
};
