/* Address leases on a bridge: plain C, shared by nsbox.core and the nsbox-netns helper.
 *
 * State: <dir>/<netns inode>-<bridge>/lock (flock'ed for each change) and one file
 * per leased address, <dir>/<key>/<a.b.c.d>, holding "<owner pid> <starttime> <uid>\n"
 * (uid: who asked for it, the setuid helper's caller; a file of an earlier version
 * has no uid, "<owner pid> <starttime>\n", and counts for nobody's quota).
 * A lease whose owner is gone (or whose pid was reused) is stale and is reclaimed.
 * Addresses are IPv4 in host byte order (addr.h parses and prints them).
 * Functions return 0 or an errno and, where they take one, fill a lease_error
 * with the facts and the argument they concern: this layer knows no recipe, so
 * the caller words the field (nsbox.net: "network.address: ..."). */
#ifndef NSBOX_LEASE_H
#define NSBOX_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lease_error {
	const char *arg;       /* "address", "gateway", "bridge", or NULL: none in particular */
	char msg[256];         /* the facts: "10.0.0.9 is already in use on brg0" */
};

/* Check that addr can be leased in the subnet of gateway/prefix: inside it, and not
 * its network, broadcast or gateway address. 0 or EINVAL with e set. */
int lease_check(uint32_t gateway, int prefix, uint32_t addr, struct lease_error *e);

/* Lease want (0: the next free address after the one handed out last, wrapping) to owner,
 * recorded as uid's; *got receives it. quota (0: none) is how many live leases uid may
 * hold on the bridge. Errors: EINVAL (bad bridge, prefix or address), EDQUOT (uid
 * holds quota leases already), EADDRINUSE (want is taken), ENOSPC (subnet full),
 * ESRCH (owner not running), or a filesystem errno. */
int lease_acquire(const char *dir, const char *bridge, uint32_t gateway, int prefix,
		  uint32_t want, pid_t owner, uid_t uid, unsigned quota, uint32_t *got,
		  struct lease_error *e);

/* Remove the lease of addr if owner (by pid) holds it: 0, ENOENT (no lease),
 * EPERM (another owner's) or a filesystem errno. */
int lease_release(const char *dir, const char *bridge, uint32_t addr, pid_t owner);

#endif
