/* Neighbour (ARP) entries, one request each: plain C over the transport of
 * nl.c, no Lua. Shared by the bindings core.rtnl.neigh_set / neigh_del
 * (rtnl_addr.c) and the setuid helper (nsbox-netns.c): both set the host's
 * entry for a container's leased address when they attach it. */
#ifndef NSBOX_RTNL_NEIGH_H
#define NSBOX_RTNL_NEIGH_H

#include <stddef.h>

#include "nl.h"

/* The entry for addr (AF_INET: 4 bytes, AF_INET6: 16) on link ifindex now
 * says lladdr (lllen bytes): RTM_NEWNEIGH with NLM_F_CREATE | NLM_F_REPLACE,
 * made if missing, replaced whatever it said. It is left NUD_STALE, as a
 * gratuitous ARP leaves it: used at once, confirmed by the kernel as usual.
 * 0 or an errno (n->ext explains). */
int nl_neigh_set(struct nl *n, int ifindex, int family, const void *addr,
		 const unsigned char *lladdr, size_t lllen);

/* Delete the entry for addr on link ifindex (RTM_DELNEIGH): the next packet
 * to it asks afresh. 0 or an errno (ENOENT: there was none). */
int nl_neigh_del(struct nl *n, int ifindex, int family, const void *addr);

#endif
