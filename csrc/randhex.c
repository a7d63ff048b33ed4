/* Random hex ids (see randhex.h). */
#define _GNU_SOURCE
#include "randhex.h"

#include <errno.h>
#include <sys/random.h>

int nsbox_random_hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[64];
	ssize_t got;

	if (nbytes > sizeof b)
		return EINVAL;
	do
		got = getrandom(b, nbytes, 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno;
	if ((size_t)got != nbytes)
		return EIO;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}
