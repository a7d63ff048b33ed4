/* Neighbour entries over nl.c (see rtnl_neigh.h): plain C, no Lua. */
#include "rtnl_neigh.h"

#include <errno.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

static struct nlmsghdr *neigh_msg(struct nl *n, uint16_t type, uint16_t flags, int ifindex,
				  int family, const void *addr, uint16_t state)
{
	struct nlmsghdr *nlh = nl_msg(n, type, flags, sizeof(struct ndmsg));
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);

	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = state;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr);
	return nlh;
}

int nl_neigh_set(struct nl *n, int ifindex, int family, const void *addr,
		 const unsigned char *lladdr, size_t lllen)
{
	struct nlmsghdr *nlh;

	if ((family != AF_INET && family != AF_INET6) || lllen == 0 || lllen > 32)
		return EINVAL;
	nlh = neigh_msg(n, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, family, addr, NUD_STALE);
	mnl_attr_put(nlh, NDA_LLADDR, lllen, lladdr);
	return nl_talk(n, nlh, NULL, NULL);
}

int nl_neigh_del(struct nl *n, int ifindex, int family, const void *addr)
{
	if (family != AF_INET && family != AF_INET6)
		return EINVAL;
	return nl_talk(n, neigh_msg(n, RTM_DELNEIGH, 0, ifindex, family, addr, 0), NULL, NULL);
}
