/* A host port held while it is published (as docker-proxy holds it): bound, and
 * for TCP listening, so that nothing else takes it meanwhile and a port in use
 * is refused before anything is made. Connections never reach the socket: the
 * DNAT rules send them on before. */
#include "common.h"
#include "addr.h"
/*** @module nsbox.core */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/***
 * Bind (and for TCP listen on) a host port: the held socket's fd.
 * @function bind_port
 * @tparam table t { address = "a.b.c.d" (default "0.0.0.0"), port = N, protocol = "tcp"|"udp" }
 * @return fd, or nil, message, errno (EADDRINUSE: in use)
 */
static int l_bind_port(lua_State *L)
{
	const char *addr, *proto;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	lua_Integer port;
	uint32_t a;
	int fd, e, udp, one = 1, ignored;

	luaL_checktype(L, 1, LUA_TTABLE);
	addr = nsbox_opt_str_field(L, 1, "address", "0.0.0.0");
	proto = nsbox_opt_str_field(L, 1, "protocol", "tcp");
	port = nsbox_opt_int_field(L, 1, "port", 0);
	if (port < 1 || port > 65535)
		return luaL_error(L, "bind_port: port 1-65535 expected");
	if (nsbox_ip4_parse(addr, 0, &a, &ignored) < 0)
		return luaL_error(L, "bind_port: address 'a.b.c.d' expected");
	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return luaL_error(L, "bind_port: protocol tcp or udp expected");
	udp = proto[0] == 'u';
	sa.sin_addr.s_addr = htonl(a);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nsbox_fail(L, errno, "socket");
	/* TCP: as a server restarting would, so a port of ours just let go is free */
	if ((!udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (!udp && listen(fd, 1) < 0)) {
		e = errno;
		close(fd);
		return nsbox_fail(L, e, "bind(%s:%d/%s)", addr, (int)port, proto);
	}
	lua_pushinteger(L, fd);
	return 1;
}

void nsbox_open_inet(lua_State *L)
{
	static const luaL_Reg fns[] = { { "bind_port", l_bind_port }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
