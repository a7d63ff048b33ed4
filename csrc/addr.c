/* IP addresses and prefixes (see addr.h): inet_pton for the address, one rule
 * for the length. */
#define _GNU_SOURCE
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int nsbox_prefix_parse(const char *s, int with_len, struct nsbox_prefix *p)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n >= sizeof host || (slash && !with_len))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(p->addr, 0, sizeof p->addr);
	if (inet_pton(AF_INET, host, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, host, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -1;
	p->len = -1;
	if (slash) {
		const char *d = slash + 1;
		int max = p->family == AF_INET ? 32 : 128, v = 0;
		if (d[0] < '0' || d[0] > '9' || (d[0] == '0' && d[1]))
			return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9' || (v = v * 10 + (*d - '0')) > max)
				return -1;
		}
		p->len = v;
	}
	return 0;
}

int nsbox_ip4_parse(const char *s, int want_prefix, uint32_t *addr, int *prefix)
{
	struct nsbox_prefix p;
	uint32_t a;

	if ((strchr(s, '/') != NULL) != (want_prefix != 0) ||
	    nsbox_prefix_parse(s, want_prefix, &p) < 0 || p.family != AF_INET)
		return -1;
	memcpy(&a, p.addr, 4);
	*addr = ntohl(a);
	if (want_prefix)
		*prefix = p.len;
	return 0;
}

char *nsbox_ip4_format(uint32_t addr, char *buf)
{
	snprintf(buf, INET_ADDRSTRLEN, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255,
		 (addr >> 8) & 255, addr & 255);
	return buf;
}
