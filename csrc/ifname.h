/* The kernel's rule for an interface name (dev_valid_name), in one place: for
 * nsbox.rtnl, the lease code, the setuid helper, and Lua (core.ifname_ok). */
#ifndef NSBOX_IFNAME_H
#define NSBOX_IFNAME_H

#include <stddef.h>

/* 1 if the len bytes at s are a valid interface name: 1..15 bytes
 * (IFNAMSIZ - 1), no NUL, not "." or "..", no '/', ':' or whitespace. */
int nsbox_ifname_ok(const char *s, size_t len);

#endif
