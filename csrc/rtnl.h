/* Shared helpers of the rtnetlink bindings (rtnl.c: links and the socket
 * helpers; rtnl_addr.c: addresses, routes and neighbour entries). */
#ifndef NSBOX_RTNL_H
#define NSBOX_RTNL_H

#include "common.h"

#include "nl.h"

#include <libmnl/libmnl.h>
#include <net/if.h>

/* One NETLINK_ROUTE socket (the transport of nl.c), opened for one Lua call.
 * It lives in a full userdata so that the socket is closed even if a Lua error
 * unwinds the call. */
struct rtnl {
	lua_State *L;          /* for callbacks that build Lua tables */
	struct nl nl;
};

/* Dumps into Lua: the result (array or map) at stack index `array`, the
 * ifindex -> name map at `names` (addresses, routes), and the filters. */
struct dump {
	lua_State *L;
	int array, names;
	lua_Integer n;         /* entries so far */
	const char *kind;      /* links(): only links of this kind */
	int index;             /* addrs(): only this link, if not 0 */
	int family;            /* only this family, if not AF_UNSPEC */
	long long table;       /* routes(): only this table, if not 0 */
};

/* A link named by name or by index, and how messages call it. */
struct rtnl_link {
	const char *name;      /* NULL if named by index */
	int index;             /* 0 if named by name */
	char label[32];        /* "eth0" or "ifindex 3" */
};

/* Open a socket, pushing its userdata; NULL with errno set on failure
 * (the userdata stays pushed either way). */
struct rtnl *rtnl_open(lua_State *L);
/* Close it now (also done by __close/__gc if a Lua error unwinds the call). */
void rtnl_close(struct rtnl *r);

/* Requests: nl_msg(&r->nl, ...), then nl_talk or nl_dump (nl.h). Build one
 * request at a time: rtnl_ifindex() and the like start their own, so call
 * them first. */
/* Dump nlh into the table on the top of the stack (d->array; it is replaced by
 * a fresh one if the dump is run again after an interruption); 0 or an errno. */
int rtnl_dump(struct rtnl *r, struct dump *d, struct nlmsghdr *nlh, mnl_cb_t cb);
/* The ifindex of a link by name (or its own index; then no request); 0 or an errno. */
int rtnl_ifindex(struct rtnl *r, const struct rtnl_link *l, int *index);
/* Push a table ifindex -> name of every link (one link dump); 0 or an errno
 * (nothing pushed). */
int rtnl_push_names(struct rtnl *r);

/* Parse the attributes of a message (after hdrlen bytes of family header) or
 * of a nest into tb[0..max]; those failing policy[type] are left out. */
void rtnl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr *nest,
		const struct nlattr **tb, unsigned int max, const uint8_t *policy);

/* Read name= / index= of the table at idx; raise if required and absent or
 * of a wrong type. 0, or EINVAL for a name that is not a valid ifname. */
int rtnl_check_link(lua_State *L, int idx, struct rtnl_link *l, int required);
/* "aa:bb:cc:dd:ee:ff" (a link-layer address, at most size bytes) into mac:
 * its length, or -1. */
int rtnl_parse_mac(const char *s, unsigned char *mac, size_t size);
/* Push nil, "<what>: strerror(err)[ (extack)]", err; return 3. */
int rtnl_fail(lua_State *L, const struct rtnl *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The address, route and neighbour functions, registered by nsbox_open_rtnl. */
extern const luaL_Reg nsbox_rtnl_addr_funcs[];

#endif
