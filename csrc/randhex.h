/* Random hex ids, in one place: container ids, host veth names ("nsb" + 8). */
#ifndef NSBOX_RANDHEX_H
#define NSBOX_RANDHEX_H

#include <stddef.h>

/* nbytes random bytes (getrandom) as 2 * nbytes lowercase hex digits and a
 * NUL into out (2 * nbytes + 1 bytes; nbytes at most 64). 0 or an errno. */
int nsbox_random_hex(char *out, size_t nbytes);

#endif
