/* Network devices by ioctl: what the container side needs before any netlink. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/***
 * Bring a link up (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP), as `ip link set
 * NAME up` does, through an AF_INET datagram socket: cheaper than a netlink
 * socket in a network namespace just made, which is where lo needs it.
 * @function ifup
 * @tparam string name interface name
 * @treturn boolean true
 */
static int l_ifup(lua_State *L)
{
	size_t len;
	const char *name = luaL_checklstring(L, 1, &len);
	struct ifreq ifr;
	if (len == 0 || len >= sizeof ifr.ifr_name)
		return nsbox_fail(L, EINVAL, "ifup(%s)", name);
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, name, len);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nsbox_fail(L, errno, "ifup(%s): socket", name);
	int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(fd);
	if (r < 0)
		return nsbox_fail(L, e, "ifup(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_netdev(lua_State *L)
{
	static const luaL_Reg fns[] = { { "ifup", l_ifup }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
