/* Address leases on a bridge: plain C, shared by nsbox.core and the nsbox-netns helper.
 *
 * State: <dir>/<netns inode>-<bridge>/lock (flock'ed for each change) and one file
 * per leased address, <dir>/<key>/<a.b.c.d>, holding "<owner pid> <starttime>\n".
 * A lease whose owner is gone (or whose pid was reused) is stale and is reclaimed.
 * Addresses are IPv4 in host byte order. Functions return 0 or an errno and, where
 * they take one, fill err with a message naming the field (network, network.address,
 * network.gateway, network.bridge) and the reason. */
#ifndef NSBOX_LEASE_H
#define NSBOX_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Parse "a.b.c.d" (want_prefix 0; no "/") or "a.b.c.d/N" (want_prefix 1; N 0..32). */
int lease_parse(const char *s, int want_prefix, uint32_t *addr, int *prefix);

/* "a.b.c.d" into buf (at least 16 bytes). */
char *lease_format(uint32_t addr, char *buf);

/* A valid interface name: 1..15 bytes, no '/', no whitespace, not "." or "..". */
int lease_ifname_ok(const char *name);

/* Check that addr can be leased in the subnet of gateway/prefix: inside it, and not
 * its network, broadcast or gateway address. 0 or EINVAL with err set. */
int lease_check(uint32_t gateway, int prefix, uint32_t addr, char *err, size_t errlen);

/* Lease want (0: the next free address after the one handed out last, wrapping) to owner; *got receives it.
 * Errors: EINVAL (bad bridge, prefix or address), EADDRINUSE (want is taken),
 * ENOSPC (subnet full), ESRCH (owner not running), or a filesystem errno. */
int lease_acquire(const char *dir, const char *bridge, uint32_t gateway, int prefix,
		  uint32_t want, pid_t owner, uint32_t *got, char *err, size_t errlen);

/* Remove the lease of addr if owner (by pid) holds it: 0, ENOENT (no lease),
 * EPERM (another owner's) or a filesystem errno. */
int lease_release(const char *dir, const char *bridge, uint32_t addr, pid_t owner);

#endif
