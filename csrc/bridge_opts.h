/* A bridge made by nsbox (nsbox.rtnl's link_add, the setuid helper) learns no
 * source MAC from link-local frames (01:80:c2:00:00:0X): LLDP's reach the bridge's
 * learning before any netfilter hook, so a container could claim another's MAC
 * with one and have its traffic (anti-spoofing sees none of those frames). */
#ifndef NSBOX_BRIDGE_OPTS_H
#define NSBOX_BRIDGE_OPTS_H

#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>

/* Inside IFLA_LINKINFO, after IFLA_INFO_KIND "bridge". */
static inline void rtnl_put_no_ll_learn(struct nlmsghdr *nlh)
{
	struct br_boolopt_multi bo = { .optval = 1u << BR_BOOLOPT_NO_LL_LEARN,
				       .optmask = 1u << BR_BOOLOPT_NO_LL_LEARN };
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);

	mnl_attr_put(nlh, IFLA_BR_MULTI_BOOLOPT, sizeof bo, &bo);
	mnl_attr_nest_end(nlh, data);
}

#endif
