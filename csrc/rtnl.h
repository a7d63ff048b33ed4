/* Shared helpers of the rtnetlink bindings (rtnl.c: links and the socket
 * helpers; rtnl_addr.c: addresses and routes). */
#ifndef NSBOX_RTNL_H
#define NSBOX_RTNL_H

#include "common.h"

#include <libmnl/libmnl.h>
#include <net/if.h>

/* Big enough for any message of a dump (the kernel caps them at 32 KiB). */
#define RTNL_BUFSIZE 32768

/* One NETLINK_ROUTE socket, opened for one Lua call. It lives in a full
 * userdata so that the socket is closed even if a Lua error unwinds the call. */
struct rtnl {
	struct mnl_socket *nl;
	unsigned int portid, seq;
	int err;               /* errno of the last NLMSG_ERROR, 0 if none */
	char ext[256];         /* its extended-ack message, "" if none */
	lua_State *L;          /* for callbacks that build Lua tables */
	mnl_cb_t cb;           /* callback for data messages of the current request */
	void *data;
	_Alignas(8) char req[4096];             /* the request being built */
	_Alignas(8) char buf[RTNL_BUFSIZE];     /* replies */
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

/* Start a request in r->req: a header and a zeroed family header of hdrlen
 * bytes (mnl_nlmsg_get_payload gives it). Build one request at a time:
 * rtnl_ifindex() and the like start their own, so call them first. */
struct nlmsghdr *rtnl_msg(struct rtnl *r, uint16_t type, uint16_t flags, size_t hdrlen);
/* Send nlh and read replies until the ack, the end of a dump, or an error;
 * data messages go to cb(nlh, data). Returns 0 or an errno (r->ext explains). */
int rtnl_talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* The ifindex of a link by name (or its own index); 0 or an errno. */
int rtnl_ifindex(struct rtnl *r, const struct rtnl_link *l, int *index);
/* Push a table ifindex -> name of every link; 0 or an errno (nothing pushed). */
int rtnl_push_names(struct rtnl *r);

/* Parse the attributes of a message (after hdrlen bytes of family header) or
 * of a nest into tb[0..max]; those failing policy[type] are left out. */
void rtnl_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr *nest,
		const struct nlattr **tb, unsigned int max, const uint8_t *policy);

/* Read name= / index= of the table at idx; raise if required and absent or
 * of a wrong type. 0, or EINVAL for a name that is not a valid ifname. */
int rtnl_check_link(lua_State *L, int idx, struct rtnl_link *l, int required);
/* Push nil, "<what>: strerror(err)[ (extack)]", err; return 3. */
int rtnl_fail(lua_State *L, const struct rtnl *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The address and route functions, registered by nsbox_open_rtnl. */
extern const luaL_Reg nsbox_rtnl_addr_funcs[];

#endif
