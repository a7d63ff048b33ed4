/* rtnetlink over libmnl, part one: the socket helpers shared with rtnl_addr.c
 * and the link calls. Each Lua call opens one NETLINK_ROUTE socket, sends its
 * request(s) built with mnl_nlmsg_put_header / mnl_attr_put*, checks the ack
 * (with the kernel's extended-ack text) and closes the socket. */
#include "common.h"
#include "rtnl.h"
#include "ifname.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include "bridge_opts.h"
#include <linux/rtnetlink.h>
#include <linux/veth.h>

/** rtnetlink: links, addresses and routes, one netlink request per call
 * (the pyroute2 habit) where the kernel allows it; each function says where it
 * makes more: a link named by `name` where the kernel wants an ifindex costs a
 * lookup first, and the address and route lists dump the links for their names.
 * A dump that concurrent changes interrupt (NLM_F_DUMP_INTR) is run again from
 * the start, up to 20 times, and is never returned short.
 * Every function takes one table; a link is named by `name` or `index`.
 * On failure: nil, message, errno (the message carries the kernel's
 * extended-ack text when it gives one); a wrong argument type raises.
 * @module nsbox.core.rtnl
 */

#define RTNL_MT "nsbox.rtnl.socket"

/* ---- the socket ---------------------------------------------------------- */

void rtnl_close(struct rtnl *r)
{
	nl_close(&r->nl);
}

static int rtnl_gc(lua_State *L)
{
	rtnl_close(luaL_checkudata(L, 1, RTNL_MT));
	return 0;
}

struct rtnl *rtnl_open(lua_State *L)
{
	struct rtnl *r = lua_newuserdatauv(L, sizeof *r, 0);
	int e;

	/* the buffers need no clearing: nl_msg clears the request it builds */
	r->L = L;
	r->nl.sock = NULL;
	r->nl.seq = 0;
	luaL_setmetatable(L, RTNL_MT);
	lua_toclose(L, -1);
	if ((e = nl_open(&r->nl))) {
		errno = e;
		return NULL;
	}
	return r;
}

/* Before a dump runs again: a fresh, empty result. */
static void dump_reset(void *data)
{
	struct dump *d = data;

	lua_settop(d->L, d->array - 1);
	lua_newtable(d->L);
	d->n = 0;
}

int rtnl_dump(struct rtnl *r, struct dump *d, struct nlmsghdr *nlh, mnl_cb_t cb)
{
	d->L = r->L;
	d->array = lua_gettop(r->L);
	return nl_dump(&r->nl, nlh, cb, dump_reset, d);
}

int rtnl_fail(lua_State *L, const struct rtnl *r, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (r && r->nl.ext[0])
		return nsbox_fail_msg(L, err, "%s: %s (%s)", what, strerror(err), r->nl.ext);
	return nsbox_fail(L, err, "%s", what);
}

/* ---- attributes ---------------------------------------------------------- */

struct attrs {
	const struct nlattr **tb;
	const uint8_t *policy;
	unsigned int max;
};

static int attrs_cb(const struct nlattr *a, void *data)
{
	const struct attrs *p = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t <= p->max && (p->policy[t] == MNL_TYPE_UNSPEC ||
			    mnl_attr_validate(a, p->policy[t]) == 0))
		p->tb[t] = a;
	return MNL_CB_OK;
}

void rtnl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr *nest,
		const struct nlattr **tb, unsigned int max, const uint8_t *policy)
{
	struct attrs p = { tb, policy, max };

	memset(tb, 0, (max + 1) * sizeof *tb);
	if (nest)
		mnl_attr_parse_nested(nest, attrs_cb, &p);
	else
		mnl_attr_parse(nlh, hdrlen, attrs_cb, &p);
}

/* ---- links: arguments ---------------------------------------------------- */

/* Absent, or a name by the kernel's rule (ifname.c). */
static int name_ok(const char *s)
{
	return s == NULL || nsbox_ifname_ok(s, strlen(s));
}

int rtnl_check_link(lua_State *L, int idx, struct rtnl_link *l, int required)
{
	l->name = nsbox_opt_str_field(L, idx, "name", NULL);
	l->index = 0;
	if (lua_getfield(L, idx, "index") != LUA_TNIL) {
		lua_Integer i;
		if (!lua_isinteger(L, -1))
			luaL_error(L, "field 'index': integer expected, got %s", luaL_typename(L, -1));
		i = lua_tointeger(L, -1);
		if (l->name)
			luaL_error(L, "fields 'name' and 'index' are exclusive");
		if (i <= 0 || i > 0x7fffffff)
			luaL_error(L, "field 'index': invalid ifindex %I", i);
		l->index = (int)i;
	}
	lua_pop(L, 1);
	if (required && !l->name && !l->index)
		luaL_error(L, "field 'name' (string) or 'index' (integer) expected");
	if (l->name)
		snprintf(l->label, sizeof l->label, "%s", l->name);
	else if (l->index)
		snprintf(l->label, sizeof l->label, "ifindex %d", l->index);
	else
		l->label[0] = '\0';
	return name_ok(l->name) ? 0 : EINVAL;
}

/* What link_add (for the link and its peer) and link_set may change. */
struct link_opts {
	lua_Integer mtu, netns_pid, netns_fd, group; /* -1: not given */
	unsigned char mac[32];
	int maclen;                            /* 0: not given */
};

int rtnl_parse_mac(const char *s, unsigned char *mac, size_t size)
{
	unsigned int b;
	int n;

	for (size_t len = 0; len < size; s += n) {
		if (sscanf(s, "%2x%n", &b, &n) != 1 || (n == 1 && s[1] && s[1] != ':'))
			return -1;
		mac[len++] = (unsigned char)b;
		if (s[n] == '\0')
			return (int)len;
		if (s[n++] != ':')
			return -1;
	}
	return -1;
}

/* Read mtu, address, netns_pid, netns_fd; NULL or a message pushed on the stack. */
static const char *read_link_opts(lua_State *L, int idx, struct link_opts *o)
{
	const char *mac = nsbox_opt_str_field(L, idx, "address", NULL);

	o->mtu = nsbox_opt_int_field(L, idx, "mtu", -1);
	o->netns_pid = nsbox_opt_int_field(L, idx, "netns_pid", -1);
	o->netns_fd = nsbox_opt_int_field(L, idx, "netns_fd", -1);
	o->group = nsbox_opt_int_field(L, idx, "group", -1);
	o->maclen = 0;
	if (o->netns_pid != -1 && o->netns_fd != -1)
		luaL_error(L, "fields 'netns_pid' and 'netns_fd' are exclusive");
	if (mac && (mac[0] == '\0' || (o->maclen = rtnl_parse_mac(mac, o->mac, sizeof o->mac)) < 0))
		return lua_pushfstring(L, "invalid address '%s'", mac);
	if (o->group != -1 && (o->group < 0 || o->group > 0xffffffff))
		return lua_pushfstring(L, "invalid group %I", o->group);
	if (o->mtu != -1 && (o->mtu < 0 || o->mtu > 0xffffffff))
		return lua_pushfstring(L, "invalid mtu %I", o->mtu);
	if (o->netns_pid != -1 && (o->netns_pid <= 0 || o->netns_pid > 0x7fffffff))
		return lua_pushfstring(L, "invalid netns_pid %I", o->netns_pid);
	if (o->netns_fd != -1 && (o->netns_fd < 0 || o->netns_fd > 0x7fffffff))
		return lua_pushfstring(L, "invalid netns_fd %I", o->netns_fd);
	return NULL;
}

static void put_link_opts(struct nlmsghdr *nlh, const struct link_opts *o)
{
	if (o->mtu != -1)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)o->mtu);
	if (o->group != -1)
		mnl_attr_put_u32(nlh, IFLA_GROUP, (uint32_t)o->group);
	if (o->maclen)
		mnl_attr_put(nlh, IFLA_ADDRESS, o->maclen, o->mac);
	if (o->netns_pid != -1)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)o->netns_pid);
	if (o->netns_fd != -1)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)o->netns_fd);
}

/* ---- links: replies ------------------------------------------------------ */

static void push_link(lua_State *L, const struct nlmsghdr *nlh)
{
	static const uint8_t policy[IFLA_MAX + 1] = {
		[IFLA_IFNAME] = MNL_TYPE_NUL_STRING, [IFLA_MTU] = MNL_TYPE_U32,
		[IFLA_MASTER] = MNL_TYPE_U32, [IFLA_LINK] = MNL_TYPE_U32,
		[IFLA_OPERSTATE] = MNL_TYPE_U8, [IFLA_LINKINFO] = MNL_TYPE_NESTED,
		[IFLA_IFALIAS] = MNL_TYPE_NUL_STRING,
	};
	static const uint8_t info_policy[IFLA_INFO_MAX + 1] = {
		[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
	};
	static const char *const operstates[] = {
		"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP",
	};
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];

	rtnl_attrs(nlh, sizeof *ifm, NULL, tb, IFLA_MAX, policy);
	lua_createtable(L, 0, 10);
	lua_pushinteger(L, ifm->ifi_index);
	lua_setfield(L, -2, "index");
	lua_pushinteger(L, ifm->ifi_flags);
	lua_setfield(L, -2, "flags");
	lua_pushboolean(L, ifm->ifi_flags & IFF_UP);
	lua_setfield(L, -2, "up");
	if (tb[IFLA_IFNAME]) {
		lua_pushstring(L, mnl_attr_get_str(tb[IFLA_IFNAME]));
		lua_setfield(L, -2, "name");
	}
	if (tb[IFLA_MTU]) {
		lua_pushinteger(L, mnl_attr_get_u32(tb[IFLA_MTU]));
		lua_setfield(L, -2, "mtu");
	}
	if (tb[IFLA_MASTER] && mnl_attr_get_u32(tb[IFLA_MASTER])) {
		lua_pushinteger(L, mnl_attr_get_u32(tb[IFLA_MASTER]));
		lua_setfield(L, -2, "master");
	}
	if (tb[IFLA_LINK]) {
		lua_pushinteger(L, mnl_attr_get_u32(tb[IFLA_LINK]));
		lua_setfield(L, -2, "link");
	}
	if (tb[IFLA_OPERSTATE]) {
		uint8_t s = mnl_attr_get_u8(tb[IFLA_OPERSTATE]);
		if (s < MNL_ARRAY_SIZE(operstates))
			lua_pushstring(L, operstates[s]);
		else
			lua_pushinteger(L, s);
		lua_setfield(L, -2, "operstate");
	}
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) > 0) {
		const unsigned char *p = mnl_attr_get_payload(tb[IFLA_ADDRESS]);
		size_t n = mnl_attr_get_payload_len(tb[IFLA_ADDRESS]);
		char s[3 * 32];
		if (n > 32)
			n = 32;
		for (size_t i = 0, o = 0; i < n; i++)
			o += (size_t)snprintf(s + o, sizeof s - o, i ? ":%02x" : "%02x", p[i]);
		lua_pushstring(L, s);
		lua_setfield(L, -2, "address");
	}
	if (tb[IFLA_IFALIAS]) {
		lua_pushstring(L, mnl_attr_get_str(tb[IFLA_IFALIAS]));
		lua_setfield(L, -2, "alias");
	}
	if (tb[IFLA_LINKINFO]) {
		rtnl_attrs(NULL, 0, tb[IFLA_LINKINFO], info, IFLA_INFO_MAX, info_policy);
		if (info[IFLA_INFO_KIND]) {
			lua_pushstring(L, mnl_attr_get_str(info[IFLA_INFO_KIND]));
			lua_setfield(L, -2, "kind");
		}
	}
}

static int ifindex_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ifm)
		return MNL_CB_OK;
	*(int *)data = ifm->ifi_index;
	return MNL_CB_OK;
}

/* RTM_GETLINK of one link by index or name: the request. */
static struct nlmsghdr *getlink_msg(struct rtnl *r, const struct rtnl_link *l)
{
	struct nlmsghdr *nlh = nl_msg(&r->nl, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = l->index;
	if (!l->index)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, l->name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

int rtnl_ifindex(struct rtnl *r, const struct rtnl_link *l, int *index)
{
	*index = l->index;
	if (l->index)
		return 0;
	return nl_talk(&r->nl, getlink_msg(r, l), ifindex_cb, index);
}


static int getlink_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg) || d->n)
		return MNL_CB_OK;
	push_link(d->L, nlh);
	d->n = 1;
	return MNL_CB_OK;
}

/* Push the table of one link; 0 or an errno (nothing pushed). */
static int get_link(struct rtnl *r, const struct rtnl_link *l)
{
	struct dump d = { .L = r->L };
	int err = nl_talk(&r->nl, getlink_msg(r, l), getlink_cb, &d);

	if (err == 0 && !d.n)
		err = ENODEV;
	if (err && d.n)
		lua_pop(r->L, 1);
	return err;
}

static int links_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	lua_State *L = d->L;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	push_link(L, nlh);
	if (d->kind) {
		int same = lua_getfield(L, -1, "kind") == LUA_TSTRING &&
			   strcmp(lua_tostring(L, -1), d->kind) == 0;
		lua_pop(L, 1);
		if (!same) {
			lua_pop(L, 1);
			return MNL_CB_OK;
		}
	}
	lua_rawseti(L, d->array, ++d->n);
	return MNL_CB_OK;
}

static int names_cb(const struct nlmsghdr *nlh, void *data)
{
	static const uint8_t policy[IFLA_IFNAME + 1] = { [IFLA_IFNAME] = MNL_TYPE_NUL_STRING };
	struct dump *d = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_IFNAME + 1];

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ifm)
		return MNL_CB_OK;
	rtnl_attrs(nlh, sizeof *ifm, NULL, tb, IFLA_IFNAME, policy);
	if (tb[IFLA_IFNAME]) {
		lua_pushstring(d->L, mnl_attr_get_str(tb[IFLA_IFNAME]));
		lua_rawseti(d->L, d->array, ifm->ifi_index);
	}
	return MNL_CB_OK;
}

/* Dump every link into the table on the top of the stack through cb. */
static int dump_links(struct rtnl *r, struct dump *d, mnl_cb_t cb)
{
	struct nlmsghdr *nlh = nl_msg(&r->nl, RTM_GETLINK, 0, sizeof(struct ifinfomsg));

	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return rtnl_dump(r, d, nlh, cb);
}

int rtnl_push_names(struct rtnl *r)
{
	struct dump d = { .L = r->L };
	int err;

	lua_newtable(r->L);
	err = dump_links(r, &d, names_cb);
	if (err)
		lua_pop(r->L, 1);
	return err;
}

/* The `master` field of the table at idx into m (by name or index; a bad
 * index is -1): 1 if given, 0 if not. m->name stays valid: the table holds it. */
static int read_master(lua_State *L, int idx, struct rtnl_link *m)
{
	int has = lua_getfield(L, idx, "master") != LUA_TNIL;

	m->name = NULL;
	m->index = 0;
	if (lua_isinteger(L, -1)) {
		lua_Integer i = lua_tointeger(L, -1);
		m->index = i > 0 && i <= 0x7fffffff ? (int)i : -1;
	} else if (lua_type(L, -1) == LUA_TSTRING)
		m->name = lua_tostring(L, -1);
	else if (has)
		return luaL_error(L, "field 'master': string or integer expected, got %s",
				  luaL_typename(L, -1));
	lua_pop(L, 1);
	return has;
}

/* IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE } }: how the link makes its
 * IPv6 link-local address, "none" for none (no DAD, router solicitation or MLD
 * report then: nothing to send them from) while an address asked for still works. */
static int addrgen_mode(const char *s)
{
	static const char *const modes[] = { "eui64", "none", "stable_secret", "random" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, modes[i]) == 0)
			return i;  /* IN6_ADDR_GEN_MODE_EUI64 .. _RANDOM */
	return -1;
}

static void put_addrgen_mode(struct nlmsghdr *nlh, int mode)
{
	struct nlattr *af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);

	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, (uint8_t)mode);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, af);
}

/* ---- links: the calls ---------------------------------------------------- */

/*** Create a link (`ip link add`).
 * For a veth, the peer is created directly in its own network namespace.
 * One request; with `exist_ok`, a link already there costs a second one (an
 * RTM_GETLINK for its kind), and a `master` named by name a lookup before it.
 * @function link_add
 * @tparam table t `name` (string), `kind` ("bridge", "veth", "dummy", ...),
 *   optional `mtu`, `address` ("aa:bb:cc:dd:ee:ff"), `netns_pid` or `netns_fd`
 *   (the namespace to create the link in), `peer` (veth only: a table with
 *   `name`, `netns_pid` or `netns_fd`, `mtu`, `address`), `exist_ok` (a link of
 *   that name and kind already there is not an error; checked in the caller's
 *   namespace only, so a link made elsewhere with `netns_*` still fails),
 *   `group` (the link group, IFLA_GROUP), `no_linklocal_learn` (bridge only:
 *   true learns no source MAC from link-local frames), `master` (name or index
 *   of a bridge: the link is made its port in the same request, as
 *   `ip link add ... master br0`; a failure to enslave removes the link)
 * @treturn[1] true
 * @return[2] nil, message, errno: `link_add(veth0): File exists`
 */
static int l_link_add(lua_State *L)
{
	struct link_opts o, po;
	struct rtnl_link m;
	const char *name, *kind, *pname = NULL, *bad;
	int has_peer, exist_ok, nolearn, has_master, master = 0, err;
	struct rtnl *r;
	struct nlmsghdr *nlh;
	struct nlattr *info, *data, *peer;

	luaL_checktype(L, 1, LUA_TTABLE);
	name = nsbox_opt_str_field(L, 1, "name", NULL);
	kind = nsbox_opt_str_field(L, 1, "kind", NULL);
	luaL_argcheck(L, name && kind, 1, "fields 'name' and 'kind' (strings) expected");
	exist_ok = nsbox_opt_bool_field(L, 1, "exist_ok", 0);
	nolearn = nsbox_opt_bool_field(L, 1, "no_linklocal_learn", 0);
	has_master = read_master(L, 1, &m);
	if ((bad = read_link_opts(L, 1, &o)))
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): %s", name, bad);
	has_peer = lua_getfield(L, 1, "peer") != LUA_TNIL;
	if (has_peer) {
		luaL_argcheck(L, lua_istable(L, -1), 1, "field 'peer': table expected");
		pname = nsbox_opt_str_field(L, -1, "name", NULL);
		if ((bad = read_link_opts(L, lua_absindex(L, -1), &po)))
			return nsbox_fail_msg(L, EINVAL, "link_add(%s): peer: %s", name, bad);
	}
	lua_pop(L, 1);
	if (!name_ok(name) || !name_ok(pname))
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): invalid interface name '%s'",
				      name, name_ok(name) ? pname : name);
	if (has_master && (!name_ok(m.name) || (!m.name && m.index <= 0)))
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): invalid master", name);
	if (!kind[0] || strlen(kind) >= 64)
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): invalid kind '%s'", name, kind);
	if (has_peer && strcmp(kind, "veth") != 0)
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): a peer needs kind 'veth'", name);
	if (nolearn && strcmp(kind, "bridge") != 0)
		return nsbox_fail_msg(L, EINVAL, "link_add(%s): no_linklocal_learn needs kind 'bridge'", name);

	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "link_add(%s): netlink socket", name);
	if (has_master && (err = rtnl_ifindex(r, &m, &master))) {
		rtnl_close(r);
		return rtnl_fail(L, r, err, "link_add(%s): master %s", name, m.name ? m.name : "?");
	}
	nlh = nl_msg(&r->nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	put_link_opts(nlh, &o);
	if (has_master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	if (has_peer) {
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
		if (pname)
			mnl_attr_put_strz(nlh, IFLA_IFNAME, pname);
		put_link_opts(nlh, &po);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, data);
	}
	if (nolearn)
		rtnl_put_no_ll_learn(nlh);
	mnl_attr_nest_end(nlh, info);
	err = nl_talk(&r->nl, nlh, NULL, NULL);

	/* Already there: fine if asked, and if it is of the same kind (only
	 * checkable when the link lives in our own namespace). */
	if (err == EEXIST && exist_ok && o.netns_pid == -1 && o.netns_fd == -1) {
		struct rtnl_link l = { .name = name };
		char ext[sizeof r->nl.ext];
		memcpy(ext, r->nl.ext, sizeof ext);
		if (get_link(r, &l) == 0) {
			int same = lua_getfield(L, -1, "kind") == LUA_TSTRING &&
				   strcmp(lua_tostring(L, -1), kind) == 0;
			rtnl_close(r);
			if (same) {
				lua_pushboolean(L, 1);
				return 1;
			}
			return nsbox_fail_msg(L, EEXIST, "link_add(%s): %s (the existing link is a %s, not a %s)",
					      name, strerror(EEXIST), luaL_optstring(L, -1, "link of no kind"), kind);
		}
		memcpy(r->nl.ext, ext, sizeof ext);
	}
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "link_add(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Change a link (`ip link set`): state, master, namespace, name, mtu, address, alias.
 * One request; a lookup of the ifindex before it for `newname` with the link
 * named by `name` (the new name takes the name's place in the request), and
 * one for a `master` named by name (the kernel takes only an ifindex there).
 * @function link_set
 * @tparam table t `name` or `index`, and any of: `up` (boolean), `master`
 *   (name or index of a bridge), `nomaster` (true: leave the bridge),
 *   `netns_pid` or `netns_fd` (move there), `newname`, `mtu`, `address`, `group`,
 *   `alias` (IFLA_IFALIAS, up to 255 bytes; "" removes it: the kernel takes
 *   none when it creates a link, so link_add has no such field), `addrgenmode`
 *   (`ip link set ... addrgenmode`: "eui64", "none", "stable_secret" or
 *   "random"; set it before the request that brings the link up: in the same
 *   one, Linux 6.1 makes the link-local address of a link whose carrier comes at
 *   once first; a kernel without IPv6 refuses it: EAFNOSUPPORT)
 * @treturn[1] true
 * @return[2] nil, message, errno: `link_set(eth9): No such device`
 */
static int l_link_set(lua_State *L)
{
	struct rtnl_link l, m = { .name = NULL };
	struct link_opts o;
	const char *newname, *alias, *genmode, *bad;
	int up, nomaster, has_master, ifindex, master = 0, mode = -1, err;
	struct rtnl *r;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;

	luaL_checktype(L, 1, LUA_TTABLE);
	err = rtnl_check_link(L, 1, &l, 1);
	newname = nsbox_opt_str_field(L, 1, "newname", NULL);
	alias = nsbox_opt_str_field(L, 1, "alias", NULL);
	genmode = nsbox_opt_str_field(L, 1, "addrgenmode", NULL);
	nomaster = nsbox_opt_bool_field(L, 1, "nomaster", 0);
	switch (lua_getfield(L, 1, "up")) {
	case LUA_TNIL: up = -1; break;
	case LUA_TBOOLEAN: up = lua_toboolean(L, -1); break;
	default: return luaL_error(L, "field 'up': boolean expected, got %s", luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	has_master = read_master(L, 1, &m);
	if (has_master && nomaster)
		return luaL_error(L, "fields 'master' and 'nomaster' are exclusive");
	if (err)
		return nsbox_fail_msg(L, EINVAL, "link_set: invalid interface name '%s'", l.name);
	if ((bad = read_link_opts(L, 1, &o)))
		return nsbox_fail_msg(L, EINVAL, "link_set(%s): %s", l.label, bad);
	if (genmode && (mode = addrgen_mode(genmode)) < 0)
		return nsbox_fail_msg(L, EINVAL, "link_set(%s): invalid addrgenmode '%s' (eui64, none, "
				      "stable_secret or random)", l.label, genmode);
	if (alias && strlen(alias) >= IFALIASZ)
		return nsbox_fail_msg(L, EINVAL, "link_set(%s): alias longer than %d bytes", l.label, IFALIASZ - 1);
	if (!name_ok(newname) || !name_ok(m.name) || (has_master && !m.name && m.index <= 0))
		return nsbox_fail_msg(L, EINVAL, "link_set(%s): invalid %s", l.label,
				      name_ok(newname) ? "master" : "newname");

	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "link_set(%s): netlink socket", l.label);
	/* Renaming needs the index: IFLA_IFNAME then carries the new name. */
	ifindex = l.index;
	if (newname && (err = rtnl_ifindex(r, &l, &ifindex)))
		goto out;
	if (has_master && (err = rtnl_ifindex(r, &m, &master))) {
		rtnl_close(r);
		return rtnl_fail(L, r, err, "link_set(%s): master %s", l.label, m.name ? m.name : "?");
	}
	nlh = nl_msg(&r->nl, RTM_NEWLINK, 0, sizeof *ifm);
	ifm = mnl_nlmsg_get_payload(nlh);
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (newname)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
	else if (!ifindex)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, l.name);
	if (up != -1) {
		ifm->ifi_change = IFF_UP;
		ifm->ifi_flags = up ? IFF_UP : 0;
	}
	if (has_master || nomaster)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	if (alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	if (mode != -1)
		put_addrgen_mode(nlh, mode);
	put_link_opts(nlh, &o);
	err = nl_talk(&r->nl, nlh, NULL, NULL);
out:
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "link_set(%s)", l.label);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Delete a link (`ip link del`); a veth takes its peer along.
 * @function link_del
 * @tparam table t `name` or `index`
 * @treturn[1] true
 * @return[2] nil, message, errno: `link_del(veth0): No such device`
 */
static int l_link_del(lua_State *L)
{
	struct rtnl_link l;
	struct rtnl *r;
	struct nlmsghdr *nlh;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (rtnl_check_link(L, 1, &l, 1))
		return nsbox_fail_msg(L, EINVAL, "link_del: invalid interface name '%s'", l.name);
	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "link_del(%s): netlink socket", l.label);
	nlh = nl_msg(&r->nl, RTM_DELLINK, 0, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index = l.index;
	if (!l.index)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, l.name);
	err = nl_talk(&r->nl, nlh, NULL, NULL);
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "link_del(%s)", l.label);
	lua_pushboolean(L, 1);
	return 1;
}

/*** Describe one link (`ip link show dev`).
 * @function link_get
 * @tparam table t `name` or `index`
 * @treturn[1] table `index`, `name`, `kind` (nil if none), `up`, `flags`,
 *   `master` (ifindex or nil), `mtu`, `address` ("xx:xx:..", nil if none),
 *   `operstate` ("UP", "DOWN", "UNKNOWN", ...), `link` (ifindex of the peer or
 *   lower link, nil if none), `alias` (IFLA_IFALIAS, nil if none)
 * @return[2] nil, message, errno: `link_get(foo): No such device`
 */
static int l_link_get(lua_State *L)
{
	struct rtnl_link l;
	struct rtnl *r;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (rtnl_check_link(L, 1, &l, 1))
		return nsbox_fail_msg(L, EINVAL, "link_get: invalid interface name '%s'", l.name);
	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "link_get(%s): netlink socket", l.label);
	err = get_link(r, &l);
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "link_get(%s)", l.label);
	return 1;
}

/*** List the links of the current network namespace (`ip link show`).
 * @function links
 * @tparam[opt] table t `kind`: only links of this kind (filtered here: one
 *   dump of every link)
 * @treturn[1] {table,...} one table per link, as `link_get` returns
 * @return[2] nil, message, errno
 */
static int l_links(lua_State *L)
{
	struct dump d = { .kind = NULL };
	struct rtnl *r;
	int err;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		d.kind = nsbox_opt_str_field(L, 1, "kind", NULL);
	}
	if (!(r = rtnl_open(L)))
		return nsbox_fail(L, errno, "links: netlink socket");
	lua_newtable(L);
	err = dump_links(r, &d, links_cb);
	rtnl_close(r);
	if (err)
		return rtnl_fail(L, r, err, "links");
	return 1;
}

static const luaL_Reg link_funcs[] = {
	{ "link_add", l_link_add },
	{ "link_set", l_link_set },
	{ "link_del", l_link_del },
	{ "link_get", l_link_get },
	{ "links", l_links },
	{ NULL, NULL }
};

int nsbox_open_rtnl(lua_State *L)
{
	static const struct nsbox_const consts[] = {
		{ "IFF_UP", IFF_UP }, { "IFF_BROADCAST", IFF_BROADCAST },
		{ "IFF_LOOPBACK", IFF_LOOPBACK }, { "IFF_RUNNING", IFF_RUNNING },
		{ "RT_TABLE_MAIN", RT_TABLE_MAIN }, { "RT_TABLE_LOCAL", RT_TABLE_LOCAL },
		{ NULL, 0 }
	};

	if (luaL_newmetatable(L, RTNL_MT)) {
		lua_pushcfunction(L, rtnl_gc);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, rtnl_gc);
		lua_setfield(L, -2, "__close");
	}
	lua_pop(L, 1);
	lua_newtable(L);
	luaL_setfuncs(L, link_funcs, 0);
	luaL_setfuncs(L, nsbox_rtnl_addr_funcs, 0);
	nsbox_set_consts(L, consts);
	return 1;
}

/* The module nsbox.rtnl, which nsbox.core hands out as core.rtnl. */
int luaopen_nsbox_rtnl(lua_State *L)
{
	return nsbox_open_rtnl(L);
}
