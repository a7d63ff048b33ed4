/* A gratuitous ARP sent by hand (core.arp_announce): arp_notify sends one when a
 * link comes up, which is before the bridge port at its other end forwards (the
 * kernel's link worker enables the port later), so that one may be dropped. */
#include "common.h"
#include "addr.h"

/*** @module nsbox.core */

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/***
 * Announce `address` on link `name`: one ARP request for it from it, to the
 * broadcast address (as `arping -U`), so that neighbours' entries for it take
 * the link's MAC. Needs CAP_NET_RAW in the link's network namespace.
 * @function arp_announce
 * @tparam table t { name = ifname, address = "a.b.c.d" }
 * @treturn boolean true, or nil, message, errno
 */
static int l_arp_announce(lua_State *L)
{
	const char *name, *address;
	struct ether_arp a;
	struct ifreq ifr;
	uint32_t addr;
	size_t len;
	int fd, e = 0;

	luaL_checktype(L, 1, LUA_TTABLE);
	name = nsbox_opt_str_field(L, 1, "name", "");
	address = nsbox_opt_str_field(L, 1, "address", "");
	len = strlen(name);
	if (len == 0 || len >= sizeof ifr.ifr_name)
		return nsbox_fail(L, EINVAL, "arp_announce: name: an interface name expected");
	if (nsbox_ip4_parse(address, 0, &addr, NULL) != 0)
		return nsbox_fail(L, EINVAL, "arp_announce: address: an IPv4 address expected, got '%s'", address);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_halen = ETH_ALEN };
	memset(to.sll_addr, 0xff, ETH_ALEN);
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, name, len);
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP))) < 0)
		return nsbox_fail(L, errno, "arp_announce(%s): socket", name);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0 || (to.sll_ifindex = ifr.ifr_ifindex, ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)) {
		e = errno;
	} else {
		memset(&a, 0, sizeof a);
		a.arp_hrd = htons(ARPHRD_ETHER);
		a.arp_pro = htons(ETHERTYPE_IP);
		a.arp_hln = ETH_ALEN;
		a.arp_pln = 4;
		a.arp_op = htons(ARPOP_REQUEST);
		memcpy(a.arp_sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
		uint32_t n = htonl(addr);
		memcpy(a.arp_spa, &n, 4);
		memcpy(a.arp_tpa, &n, 4);
		if (sendto(fd, &a, sizeof a, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)sizeof a)
			e = errno ? errno : EIO;
	}
	close(fd);
	if (e)
		return nsbox_fail(L, e, "arp_announce(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_garp(lua_State *L)
{
	static const luaL_Reg fns[] = { { "arp_announce", l_arp_announce }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
