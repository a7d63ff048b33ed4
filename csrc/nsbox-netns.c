/* nsbox-netns: the setuid-root network helper for unprivileged nsbox users (like netsetgo).
 *
 *   nsbox-netns attach PID BRIDGE [ADDRESS]
 *
 * Host-side plumbing only, for a target process that belongs to the caller and lives in
 * a user namespace the caller owns: lease an address on BRIDGE (listed with its subnet
 * in the root-owned NSBOX_NETNS_CONF; leases in NSBOX_NETNS_STATE), make sure BRIDGE
 * exists with its gateway address and is up, create a veth pair whose host end
 * ("nsb" + 8 random hex digits) is enslaved to the bridge and up and whose peer
 * "eth0" is born inside the target's network namespace (with a MAC chosen here,
 * which the host's neighbour entry for the address is set to at once). A bridge
 * that exists already must have the config's gateway address, or no IPv4 address
 * at all (it then gets it): one with another is refused, as it may not be nsbox's.
 * A bridge made here is marked with the alias "nsbox", as nsbox.net marks its own.
 * Config lines:
 *   bridge NAME GATEWAY/PREFIX [nat] [quota N]     (nat and quota N in any order)
 * A bridge the config marks "nat" gets egress: its subnet masqueraded in table inet
 * nsbox (nft.c; a table of that name nsbox did not make is refused) and IPv4
 * forwarding on. One with "quota N" (1 to 65535) leases at most N addresses with a
 * live owner to one caller uid (the lease records it): the next is refused, before
 * any link is made, so that one user cannot take a whole subnet. Prints
 *   host=<hostif> interface=eth0 address=<a.b.c.d>/<prefix> gateway=<gw>
 * in one write that never waits (stdout must be a pipe or a socket) and exits 0;
 * otherwise one "nsbox-netns: <reason>" line on stderr, exit 1 (2 for a usage
 * error), and nothing left behind. The caller cannot signal this process, so it
 * never waits on its output while it holds anything: the reply is written without
 * waiting before what was made is kept, and the message only once all is undone,
 * every fd closed and the caller's uid taken back. Every argument is treated as
 * hostile. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "bridge_opts.h"
#include "ifname.h"
#include "lease.h"
#include "nft.h"
#include "nl.h"
#include "randhex.h"
#include "rtnl_neigh.h"
#include "starttime.h"

#ifndef NSBOX_NETNS_CONF
#define NSBOX_NETNS_CONF "/etc/nsbox/netns.conf"
#endif
#ifndef NSBOX_NETNS_STATE
#define NSBOX_NETNS_STATE "/run/nsbox/net"
#endif
#define PEER "eth0"
#define MARK "nsbox" /* the alias of the bridges nsbox made (nsbox.net's MARK) */

struct ctx {
	pid_t pid;
	uid_t uid;
	const char *bridge;
	uint32_t gw, want, addr;
	int prefix, nat, leased, pidfd, procfd, netfd;
	unsigned quota;                         /* the bridge's, 0: none */
	struct nft_guard guard;                 /* the port's anti-spoofing element, once made (ifindex set) */
	int line;                               /* the bridge's config line */
	struct nl nl;                           /* the netlink transport (nl.c) */
	char why[sizeof ((struct nl *)0)->ext + 3]; /* " (extended-ack text)" of the last error */
	struct { int index; unsigned flags; char name[IFNAMSIZ], kind[32]; } link;
	int brindex;
	char host[IFNAMSIZ];
	unsigned char mac[6];                   /* the peer's, chosen here (set_neigh) */
};

/* The one message of a failed run, kept until main has undone everything (tell). */
static char message[600];

static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (message[0])
		return code; /* the first failure is the cause */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(message, sizeof message, "nsbox-netns: %s\n", msg);
	return code;
}

/* One write of len bytes to fd that never waits: the count written, or -1 with
 * errno (EAGAIN: a full pipe or socket; EOPNOTSUPP: a file type that may wait,
 * such as a terminal or a file on a FUSE mount). Kernels before 6.3 refuse
 * RWF_NOWAIT on pipes too (Debian 12's 6.1): a socket then takes MSG_DONTWAIT,
 * a pipe O_NONBLOCK for the one write (its flags put back after). */
static ssize_t write_nowait(int fd, const char *buf, size_t len)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	ssize_t n = pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
	if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS))
		return n;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISSOCK(st.st_mode))
		return send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (!S_ISFIFO(st.st_mode)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	n = write(fd, buf, len);
	int e = errno;
	(void)fcntl(fd, F_SETFL, fl);
	errno = e;
	return n;
}

/* The message on stderr, once nothing is held: without waiting if stderr takes
 * that, else (a terminal) as the caller's uid, who can kill us if it waits. A
 * full pipe loses the message; the exit code still says it. */
static void tell(uid_t uid)
{
	size_t len = strlen(message);
	if (!len || write_nowait(2, message, len) >= 0 || errno != EOPNOTSUPP)
		return;
	if (geteuid() != uid && setresuid(uid, uid, uid) < 0)
		return;
	(void)!write(2, message, len);
}

/* A lease error, worded as nsbox run words it: the argument it concerns is the
 * recipe's network field of that name (this program's ADDRESS is network.address). */
static int say_lease(const struct lease_error *e)
{
	return say(1, "network%s%s: %s", e->arg ? "." : "", e->arg ? e->arg : "", e->msg);
}

/* s as a positive decimal integer of at most digits digits (no sign, no leading
 * zero, nothing after), or 0. */
static long decimal(const char *s, size_t digits)
{
	size_t len = strspn(s, "0123456789");
	return len && len == strlen(s) && len <= digits && s[0] != '0' ? strtol(s, NULL, 10) : 0;
}

/* A hostile string made printable and short, for messages. */
static const char *safe(const char *s, char *buf, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		buf[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* ---- netlink (nl.c) ---- */

/* Send one request, feed the replies to cb; 0 or -1 with errno and c->why. */
static int talk(struct ctx *c, struct nlmsghdr *nlh, mnl_cb_t cb)
{
	int e = nl_talk(&c->nl, nlh, cb, c);
	if (c->nl.ext[0])
		snprintf(c->why, sizeof c->why, " (%s)", c->nl.ext);
	else
		c->why[0] = '\0';
	return e ? (errno = e, -1) : 0;
}

static struct nlmsghdr *link_msg(struct ctx *c, int type, int flags, int index, unsigned up)
{
	struct nlmsghdr *nlh = nl_msg(&c->nl, (uint16_t)type, (uint16_t)flags, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = ifi->ifi_change = up;
	return nlh;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *c = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *b;
	memset(&c->link, 0, sizeof c->link);
	c->link.index = ifi->ifi_index;
	c->link.flags = ifi->ifi_flags;
	mnl_attr_for_each(a, nlh, sizeof *ifi) {
		if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(c->link.name, sizeof c->link.name, "%s", mnl_attr_get_str(a));
		if (mnl_attr_get_type(a) == IFLA_LINKINFO)
			mnl_attr_for_each_nested(b, a)
				if (mnl_attr_get_type(b) == IFLA_INFO_KIND &&
				    mnl_attr_validate(b, MNL_TYPE_NUL_STRING) == 0)
					snprintf(c->link.kind, sizeof c->link.kind, "%s", mnl_attr_get_str(b));
	}
	return MNL_CB_OK;
}

static int get_link(struct ctx *c, const char *name)
{
	struct nlmsghdr *nlh = link_msg(c, RTM_GETLINK, 0, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	c->link.index = 0;
	if (talk(c, nlh, link_cb) < 0)
		return -1;
	return c->link.index ? 0 : (errno = ENODEV, -1);
}

/* The bridge's IPv4 addresses: whether it has the gateway (address and prefix),
 * and its first one, for the message. */
struct bridge_addrs {
	int index, prefix, has_gw, count, first_prefix;
	uint32_t gw, first;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct bridge_addrs *b = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *local = NULL, *address = NULL;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof *ifa || ifa->ifa_family != AF_INET ||
	    (int)ifa->ifa_index != b->index)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof *ifa) {
		int t = mnl_attr_get_type(a);
		if ((t == IFA_LOCAL || t == IFA_ADDRESS) && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			*(t == IFA_LOCAL ? &local : &address) = a;
	}
	if (!local) /* IFA_LOCAL is the link's own address; IFA_ADDRESS, a point-to-point peer's */
		local = address;
	if (!local)
		return MNL_CB_OK;
	uint32_t v = ntohl(mnl_attr_get_u32(local));
	if (b->count++ == 0)
		b->first = v, b->first_prefix = ifa->ifa_prefixlen;
	if (v == b->gw && ifa->ifa_prefixlen == b->prefix)
		b->has_gw = 1;
	return MNL_CB_OK;
}

static void addr_reset(void *data)
{
	struct bridge_addrs *b = data;
	b->has_gw = b->count = 0;
}

/* The bridge has the config's gateway, or no IPv4 address (1: add it); else it
 * is refused (-1): someone else's subnet, on a bridge that may not be nsbox's. */
static int check_bridge_addrs(struct ctx *c)
{
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	struct bridge_addrs b = { .index = c->brindex, .gw = c->gw, .prefix = c->prefix };
	struct nlmsghdr *nlh = nl_msg(&c->nl, RTM_GETADDR, 0, sizeof(struct ifaddrmsg));
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family = AF_INET;
	int e = nl_dump(&c->nl, nlh, addr_cb, addr_reset, &b);
	if (e)
		return say(-1, "reading the addresses of %s: %s%s%s%s", c->bridge, strerror(e),
			   c->nl.ext[0] ? " (" : "", c->nl.ext, c->nl.ext[0] ? ")" : "");
	if (b.has_gw)
		return 0;
	if (b.count == 0)
		return 1;
	return say(-1, "gateway %s/%d (%s) differs from bridge %s's address %s/%d: refused",
		   nsbox_ip4_format(c->gw, g), c->prefix, NSBOX_NETNS_CONF, c->bridge,
		   nsbox_ip4_format(b.first, a), b.first_prefix);
}

static int add_gateway(struct ctx *c)
{
	char a[INET_ADDRSTRLEN];
	struct nlmsghdr *nlh = nl_msg(&c->nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)c->prefix;
	ifa->ifa_index = (unsigned)c->brindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(c->gw));
	mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(c->gw));
	if (talk(c, nlh, NULL) < 0 && errno != EEXIST) /* EEXIST: a concurrent run added it */
		return say(1, "adding %s/%d to %s: %s%s", nsbox_ip4_format(c->gw, a), c->prefix, c->bridge,
			   strerror(errno), c->why);
	return 0;
}

static int ensure_bridge(struct ctx *c)
{
	struct nlmsghdr *nlh;
	int made = 0;
	if (get_link(c, c->bridge) < 0) {
		if (errno != ENODEV)
			return say(1, "looking up %s: %s%s", c->bridge, strerror(errno), c->why);
		nlh = link_msg(c, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, IFF_UP);
		mnl_attr_put_strz(nlh, IFLA_IFNAME, c->bridge);
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
		rtnl_put_no_ll_learn(nlh);
		mnl_attr_nest_end(nlh, info);
		made = talk(c, nlh, NULL) == 0;
		if (!made && errno != EEXIST) /* EEXIST: a concurrent run made it */
			return say(1, "creating bridge %s: %s%s", c->bridge, strerror(errno), c->why);
		if (get_link(c, c->bridge) < 0)
			return say(1, "looking up %s: %s%s", c->bridge, strerror(errno), c->why);
	}
	if (strcmp(c->link.name, c->bridge) || strcmp(c->link.kind, "bridge"))
		return say(1, "%s exists and is not a bridge", c->bridge);
	c->brindex = c->link.index;
	if (made) { /* the kernel takes no alias in the request that creates a link */
		nlh = link_msg(c, RTM_NEWLINK, 0, c->brindex, 0);
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, MARK);
		if (talk(c, nlh, NULL) < 0)
			return say(1, "marking bridge %s: %s%s", c->bridge, strerror(errno), c->why);
	}
	int add = check_bridge_addrs(c);
	if (add < 0)
		return 1;
	if (add && add_gateway(c))
		return 1;
	if (!(c->link.flags & IFF_UP) && talk(c, link_msg(c, RTM_NEWLINK, 0, c->brindex, IFF_UP), NULL) < 0)
		return say(1, "setting %s up: %s%s", c->bridge, strerror(errno), c->why);
	return 0;
}

/* The host end makes no IPv6 link-local address, so it sends no DAD, router
 * solicitation or MLD report to every port when its carrier comes (the target
 * raises its end): set before then, in a request of its own (the kernel
 * refuses it in the one that creates the link). No IPv6: nothing to do. */
static int quiet(struct ctx *c)
{
	struct nlmsghdr *nlh = link_msg(c, RTM_NEWLINK, 0, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, c->host);
	struct nlattr *af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, af);
	if (talk(c, nlh, NULL) == 0 || errno == EAFNOSUPPORT)
		return 0;
	return say(1, "addrgenmode none on %s: %s%s", c->host, strerror(errno), c->why);
}

static int add_veth(struct ctx *c)
{
	/* a random locally administered unicast MAC for the peer, so that
	 * set_neigh can tell the host's neighbour table what it is */
	if (getrandom(c->mac, sizeof c->mac, 0) != (ssize_t)sizeof c->mac)
		return say(1, "getrandom: %s", strerror(errno));
	c->mac[0] = (unsigned char)((c->mac[0] & 0xfe) | 0x02);
	for (int tries = 0;; tries++) {
		char rnd[9];
		int e = nsbox_random_hex(rnd, 4);
		if (e)
			return say(1, "getrandom: %s", strerror(e));
		snprintf(c->host, sizeof c->host, "nsb%s", rnd);
		struct nlmsghdr *nlh = link_msg(c, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, IFF_UP);
		mnl_attr_put_strz(nlh, IFLA_IFNAME, c->host);
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)c->brindex);
		/* guarded (guard()): dropped until its element is there, and again once it goes */
		mnl_attr_put_u32(nlh, IFLA_GROUP, NFT_PORT_GROUP);
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
		struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
		mnl_attr_put_strz(nlh, IFLA_IFNAME, PEER);
		mnl_attr_put(nlh, IFLA_ADDRESS, sizeof c->mac, c->mac);
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)c->netfd);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, data);
		mnl_attr_nest_end(nlh, info);
		if (talk(c, nlh, NULL) == 0)
			return quiet(c);
		e = errno;
		char why[sizeof c->why];
		memcpy(why, c->why, sizeof why);
		if (e == EEXIST && tries < 3 && get_link(c, c->host) == 0)
			continue; /* our random name was taken: draw another */
		c->host[0] = '\0';
		if (e == EEXIST)
			return say(1, "%s already exists in the network namespace of process %d", PEER, c->pid);
		return say(1, "creating veth (peer %s in process %d): %s%s", PEER, c->pid, strerror(e), why);
	}
}

/* The host's neighbour entry for the leased address says the peer's MAC now:
 * the container's gratuitous ARP may leave before its bridge port forwards,
 * and the entry of an earlier holder of the address would stand. */
static int set_neigh(struct ctx *c)
{
	char a[INET_ADDRSTRLEN];
	uint32_t addr = htonl(c->addr);
	int e = nl_neigh_set(&c->nl, c->brindex, AF_INET, &addr, c->mac, sizeof c->mac);
	if (e)
		return say(1, "neigh_set(%s on %s): %s%s%s%s", nsbox_ip4_format(c->addr, a), c->bridge,
			   strerror(e), c->nl.ext[0] ? " (" : "", c->nl.ext, c->nl.ext[0] ? ")" : "");
	return 0;
}

static void del_veth(struct ctx *c)
{
	struct nlmsghdr *nlh = link_msg(c, RTM_DELLINK, 0, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, c->host);
	talk(c, nlh, NULL);
}

/* ---- the checks ---- */

static int same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The user namespace fd must be a non-initial one created by the caller. */
static int userns_ok(struct ctx *c, int fd)
{
	uid_t owner = (uid_t)-1;
	if (same_file(fd, "/proc/1/ns/user") || same_file(fd, "/proc/self/ns/user"))
		return 0;
	return ioctl(fd, NS_GET_OWNER_UID, &owner) == 0 && owner == c->uid;
}

static int check_target(struct ctx *c)
{
	char path[64], buf[8192];
	c->pidfd = pidfd_open(c->pid, 0);
	if (c->pidfd < 0 && errno == ESRCH)
		return say(1, "no process %d", c->pid);
	if (c->pidfd < 0)
		return say(1, "pidfd_open(%d): %s", c->pid, strerror(errno));
	snprintf(path, sizeof path, "/proc/%d", c->pid);
	c->procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->procfd < 0 || pidfd_send_signal(c->pidfd, 0, NULL, 0) < 0)
		return say(1, "process %d is gone", c->pid);
	int fd = openat(c->procfd, "status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	unsigned u[4];
	buf[n > 0 ? n : 0] = '\0';
	char *uid = strstr(buf, "\nUid:");
	if (!uid || sscanf(uid, "\nUid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]) != 4)
		return say(1, "cannot read the credentials of process %d", c->pid);
	for (int i = 0; i < 4; i++)
		if (u[i] != c->uid)
			return say(1, "process %d does not belong to you", c->pid);
	fd = openat(c->procfd, "ns/user", O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && userns_ok(c, fd);
	if (fd >= 0)
		close(fd);
	if (!ok)
		return say(1, "process %d is not in a user namespace of yours", c->pid);
	c->netfd = openat(c->procfd, "ns/net", O_RDONLY | O_CLOEXEC);
	if (c->netfd < 0)
		return say(1, "opening the network namespace of process %d: %s", c->pid, strerror(errno));
	if (same_file(c->netfd, "/proc/self/ns/net"))
		return say(1, "process %d shares the host's network namespace", c->pid);
	fd = ioctl(c->netfd, NS_GET_USERNS);
	ok = fd >= 0 && userns_ok(c, fd);
	if (fd >= 0)
		close(fd);
	if (!ok)
		return say(1, "the network namespace of process %d is not owned by a user namespace of yours", c->pid);
	if (pidfd_send_signal(c->pidfd, 0, NULL, 0) < 0)
		return say(1, "process %d is gone", c->pid);
	return 0;
}

/* A quota above this is a typo: a /16 has 65534 addresses to lease. */
#define QUOTA_MAX 65535

/* Find c->bridge in the root-owned config: "bridge NAME GATEWAY/PREFIX" lines, then
 * "nat" and "quota N" in any order, each at most once; # comments. */
static int check_conf(struct ctx *c)
{
	const char *path = NSBOX_NETNS_CONF, *base = strrchr(path, '/');
	char dir[4096], buf[65536], nm[32];
	struct stat st;
	if (path[0] != '/' || !base || (size_t)(base - path) >= sizeof dir)
		return say(1, "bad compiled-in config path %s", path);
	snprintf(dir, sizeof dir, "%.*s", base == path ? 1 : (int)(base - path), path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		if (dfd >= 0)
			close(dfd);
		return say(1, "refusing %s: its directory is missing, not owned by root or writable by others", path);
	}
	int fd = openat(dfd, base + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	close(dfd);
	if (fd < 0)
		return say(1, "%s: %s", path, strerror(errno));
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && !(st.st_mode & 022))
		n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0 || n == sizeof buf)
		return say(1, "refusing %s: not a root-owned file that only root can write", path);
	buf[n] = '\0';
	int found = 0;
	char *l = buf;
	for (int line = 1; l && *l; line++) {
		char *end = strchr(l, '\n'), *hash, *tok[7], *save = NULL;
		int nt = 0;
		if (end)
			*end = '\0';
		if ((hash = strchr(l, '#')))
			*hash = '\0';
		for (char *t = strtok_r(l, " \t\r", &save); t && nt < 7; t = strtok_r(NULL, " \t\r", &save))
			tok[nt++] = t;
		l = end ? end + 1 : NULL;
		if (nt == 0)
			continue;
		uint32_t gw;
		int prefix = 0;
		uint32_t host = 0;
		if (nt >= 3 && !nsbox_ip4_parse(tok[2], 1, &gw, &prefix) && prefix >= 1 && prefix <= 30)
			host = gw & (0xffffffffu >> prefix); /* the gateway's host part */
		int nat = 0, bad = nt < 3 || nt > 6 || strcmp(tok[0], "bridge") ||
			  !nsbox_ifname_ok(tok[1], strlen(tok[1])) || host == 0 || host == 0xffffffffu >> prefix;
		long quota = 0;
		/* quota N twice is more than 6 words */
		for (int i = 3; i < nt && !bad; i++)
			if (!strcmp(tok[i], "nat") && !nat)
				nat = 1;
			else if (!strcmp(tok[i], "quota") && i + 1 < nt)
				bad = (quota = decimal(tok[++i], 5)) == 0 || quota > QUOTA_MAX;
			else
				bad = 1;
		if (bad)
			return say(1, "%s:%d: malformed line (expected: bridge NAME GATEWAY/PREFIX [nat] [quota N], "
				   "N from 1 to %d)", path, line, QUOTA_MAX);
		if (!found && !strcmp(tok[1], c->bridge)) {
			found = 1, c->gw = gw, c->prefix = prefix, c->nat = nat;
			c->quota = (unsigned)quota, c->line = line;
		}
	}
	if (!found)
		return say(1, "bridge %s is not allowed by %s", safe(c->bridge, nm, sizeof nm), path);
	struct lease_error e;
	if (c->want && lease_check(c->gw, c->prefix, c->want, &e))
		return say_lease(&e);
	return 0;
}

/* Egress for a bridge the config marks nat: its subnet masqueraded (table inet
 * nsbox, nft.c) and IPv4 forwarding on. On its own netfilter socket; the
 * rtnetlink one is reopened after, for the veth. */
static int ensure_nat(struct ctx *c)
{
	char fwd = 0, g[INET_ADDRSTRLEN];
	int added, e, fd;

	nl_close(&c->nl);
	if ((e = nl_open_proto(&c->nl, NETLINK_NETFILTER)))
		return say(1, "netfilter socket: %s", strerror(e));
	e = nft_masquerade(&c->nl, c->gw & (0xffffffffu << (32 - c->prefix)), c->prefix,
			   NSBOX_NETNS_STATE "/nft.lock", &added);
	snprintf(c->why, sizeof c->why, "%s%s%s", c->nl.ext[0] ? " (" : "", c->nl.ext, c->nl.ext[0] ? ")" : "");
	nl_close(&c->nl);
	if (e)
		return say(1, "masquerade of %s/%d (bridge %s is marked nat): %s%s", nsbox_ip4_format(c->gw, g),
			   c->prefix, c->bridge, strerror(e), c->why);
	fd = open("/proc/sys/net/ipv4/ip_forward", O_RDWR | O_CLOEXEC);
	if (fd < 0 || pread(fd, &fwd, 1, 0) != 1 || (fwd != '1' && pwrite(fd, "1", 1, 0) != 1)) {
		e = errno;
		if (fd >= 0)
			close(fd);
		return say(1, "turning IPv4 forwarding on: %s", strerror(e));
	}
	close(fd);
	if ((e = nl_open(&c->nl)))
		return say(1, "netlink socket: %s", strerror(e));
	return 0;
}

/* Anti-spoofing at the new port (nft_antispoof.c, table bridge nsbox): the target
 * sends into the bridge only from its MAC and leased address, so that it cannot
 * take another's address or the gateway's. The element names the target (pid and
 * start time): once it is gone, the element matches nothing (keyed by the port's
 * ifindex) and is swept by a later add. On its own netfilter socket, as ensure_nat. */
static int guard(struct ctx *c)
{
	unsigned long long start;
	char a[INET_ADDRSTRLEN], comment[128];
	struct nft_guard g = { .addr = c->addr };
	struct nl n = { 0 };
	int e;

	if (nsbox_starttime(c->pid, &start) < 0)
		return say(1, "target %d ended", (int)c->pid);
	snprintf(comment, sizeof comment, "nsbox antispoof pid=%d start=%llu port=%s to=%s", (int)c->pid, start,
		 c->host, nsbox_ip4_format(c->addr, a));
	if ((e = nl_open_proto(&n, NETLINK_NETFILTER)))
		return say(1, "netfilter socket: %s", strerror(e));
	memcpy(g.mac, c->mac, sizeof g.mac);
	e = nft_antispoof_add(&n, c->host, &g, comment, NSBOX_NETNS_STATE "/nft.lock");
	snprintf(c->why, sizeof c->why, "%s%s%s", n.ext[0] ? " (" : "", n.ext, n.ext[0] ? ")" : "");
	nl_close(&n);
	if (e)
		return say(1, "anti-spoofing of port %s: %s%s", c->host, strerror(e), c->why);
	c->guard = g;
	return 0;
}

/* Its removal, when the attach fails after it. */
static void unguard(struct ctx *c)
{
	struct nl n = { 0 };
	int removed;

	if (c->guard.ifindex && !nl_open_proto(&n, NETLINK_NETFILTER))
		nft_antispoof_del(&n, &c->guard, NSBOX_NETNS_STATE "/nft.lock", &removed);
	nl_close(&n);
}

/* ---- main ---- */

static int usage(void)
{
	return say(2, "usage: nsbox-netns attach PID BRIDGE [ADDRESS]");
}

static int run(struct ctx *c, int argc, char **argv)
{
	char nm[32], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	struct lease_error le;
	if (argc < 4 || argc > 5 || strcmp(argv[1], "attach"))
		return usage();
	for (int i = 2; i < argc; i++)
		if (argv[i][0] == '-' || argv[i][0] == '\0')
			return usage();
	const char *p = argv[2];
	long pid = decimal(p, 9);
	if (pid <= 0)
		return say(2, "PID must be a positive decimal integer, not '%s'", safe(p, nm, sizeof nm));
	c->pid = (pid_t)pid;
	c->bridge = argv[3];
	if (!nsbox_ifname_ok(c->bridge, strlen(c->bridge)))
		return say(2, "invalid bridge name '%s'", safe(c->bridge, nm, sizeof nm));
	int ignored;
	if (argc == 5 && (nsbox_ip4_parse(argv[4], 0, &c->want, &ignored) || !c->want))
		return say(2, "invalid address '%s' (expected a.b.c.d)", safe(argv[4], nm, sizeof nm));
	if (geteuid() != 0)
		return say(1, "not running as root: install it setuid root (make install-helper)");
	if (check_target(c) || check_conf(c))
		return 1;

	/* the lease first: a refused one (taken, full, over quota) makes no link */
	int r = lease_acquire(NSBOX_NETNS_STATE, c->bridge, c->gw, c->prefix, c->want, c->pid, c->uid,
			      c->quota, &c->addr, &le);
	if (r == EDQUOT)
		return say(1, "%s (%s:%d quota %u)", le.msg, NSBOX_NETNS_CONF, c->line, c->quota);
	if (r)
		return say_lease(&le);
	c->leased = 1;
	int e = nl_open(&c->nl);
	if (e)
		return say(1, "netlink socket: %s", strerror(e));
	if (ensure_bridge(c) || (c->nat && ensure_nat(c)) || add_veth(c) || set_neigh(c) || guard(c))
		return 1;
	/* the reply decides whether what we made is kept: it must not wait */
	char out[128];
	int olen = snprintf(out, sizeof out, "host=%s interface=%s address=%s/%d gateway=%s\n", c->host, PEER,
			   nsbox_ip4_format(c->addr, a), c->prefix, nsbox_ip4_format(c->gw, g));
	ssize_t n = write_nowait(1, out, (size_t)olen);
	if (n < 0 && errno == EOPNOTSUPP)
		return say(1, "writing the result: stdout must be a pipe or a socket (a write to it could wait): %s",
			   strerror(errno));
	if (n < 0)
		return say(1, "writing the result: %s", strerror(errno));
	if (n != olen)
		return say(1, "writing the result: %zd of %d bytes written", n, olen);
	c->host[0] = '\0'; /* done: keep what we made */
	c->leased = 0;
	return 0;
}

int main(int argc, char **argv)
{
	clearenv();
	umask(022);
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	for (int fd = 0; fd < 3; fd++) /* 0, 1, 2 open, so that no socket becomes stdout */
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a caller's RLIMIT_FSIZE gives EFBIG, not a kill midway */

	struct ctx c = { .uid = getuid(), .pidfd = -1, .procfd = -1, .netfd = -1 };
	/* The caller's uid is noted; from now on it can no longer signal (stop) us while
	 * we hold the lease lock or have half-made links. */
	int code = geteuid() == 0 && setresuid(0, 0, 0) < 0 ? say(1, "setresuid: %s", strerror(errno))
							     : run(&c, argc, argv);
	if (c.host[0]) {
		unguard(&c);
		del_veth(&c);
	}
	if (c.leased)
		lease_release(NSBOX_NETNS_STATE, c.bridge, c.addr, c.pid);
	nl_close(&c.nl);
	int fds[] = { c.pidfd, c.procfd, c.netfd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	tell(c.uid);
	return code;
}
