/* Probe for spec/ids_spec.lua, built static and bound into the container:
 *   ids_probe setgroups GID...   setgroups(2) to the list, then print the groups
 *   ids_probe raw | dgram        open an ICMP socket, SOCK_RAW (CAP_NET_RAW) or
 *                                SOCK_DGRAM (net.ipv4.ping_group_range)
 *   ids_probe ping ADDR          one echo request over a SOCK_DGRAM ICMP socket,
 *                                as iputils' ping does without CAP_NET_RAW
 * It prints one line saying what the kernel answered and exits 0 on success. */
#include <errno.h>
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int try_setgroups(int n, char **ids)
{
	gid_t list[64];
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		list[i] = (gid_t)strtoul(ids[i], NULL, 10);
	if (setgroups((size_t)n, list) < 0) {
		printf("setgroups: %s\n", strerror(errno));
		return 1;
	}
	int got = getgroups(64, list);
	printf("setgroups: ok, groups");
	for (int i = 0; i < got; i++)
		printf(" %u", (unsigned)list[i]);
	printf("\n");
	return 0;
}

static int try_icmp(const char *kind)
{
	int type = strcmp(kind, "raw") == 0 ? SOCK_RAW : SOCK_DGRAM;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		printf("%s: %s\n", kind, strerror(errno));
		return 1;
	}
	close(fd);
	printf("%s: ok\n", kind);
	return 0;
}

static int try_ping(const char *addr)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
		printf("ping %s: not an IPv4 address\n", addr);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		printf("ping %s: socket: %s\n", addr, strerror(errno));
		return 1;
	}
	/* the kernel fills in the id (the socket's port) and the checksum */
	struct icmphdr req = { .type = ICMP_ECHO, .un.echo.sequence = htons(1) };
	if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to) < 0) {
		printf("ping %s: sendto: %s\n", addr, strerror(errno));
		return 1;
	}
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 3000) != 1) {
		printf("ping %s: no reply\n", addr);
		return 1;
	}
	struct icmphdr rep;
	if (recv(fd, &rep, sizeof rep, 0) < (ssize_t)sizeof rep || rep.type != ICMP_ECHOREPLY) {
		printf("ping %s: not an echo reply\n", addr);
		return 1;
	}
	printf("ping %s: reply\n", addr);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "setgroups") == 0)
		return try_setgroups(argc - 2, argv + 2);
	if (argc == 2 && (strcmp(argv[1], "raw") == 0 || strcmp(argv[1], "dgram") == 0))
		return try_icmp(argv[1]);
	if (argc == 3 && strcmp(argv[1], "ping") == 0)
		return try_ping(argv[2]);
	fprintf(stderr, "usage: ids_probe setgroups GID... | raw | dgram | ping ADDR\n");
	return 2;
}
