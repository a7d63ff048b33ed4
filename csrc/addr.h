/* Parsing and printing of IP addresses and prefixes, in one place: for
 * nsbox.rtnl (IPv4 and IPv6), the lease code and the setuid helper (IPv4), and
 * Lua (core.ip4_parse). */
#ifndef NSBOX_ADDR_H
#define NSBOX_ADDR_H

#include <stdint.h>

struct nsbox_prefix {
	int family;            /* AF_INET or AF_INET6 */
	int len;               /* prefix length; -1 if none was given */
	unsigned char addr[16];/* network byte order */
};

/* "a.b.c.d", "fd00::2", with "/N" if with_len (N: decimal digits, no leading
 * zero, at most 32 or 128; optional: len is -1 without it). 0 or -1. */
int nsbox_prefix_parse(const char *s, int with_len, struct nsbox_prefix *p);

/* IPv4 only, host byte order: "a.b.c.d" (want_prefix 0: no "/") or
 * "a.b.c.d/N" (want_prefix 1: "/N" required, N 0..32). 0 or -1. */
int nsbox_ip4_parse(const char *s, int want_prefix, uint32_t *addr, int *prefix);

/* "a.b.c.d" of addr (host byte order) into buf (at least 16 bytes); buf. */
char *nsbox_ip4_format(uint32_t addr, char *buf);

#endif
