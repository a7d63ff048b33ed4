/* The interface name rule (see ifname.h), as net/core/dev.c checks it. */
#include "ifname.h"

#include <string.h>

int nsbox_ifname_ok(const char *s, size_t len)
{
	if (!s || len < 1 || len > 15 || memchr(s, '\0', len))
		return 0;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		/* isspace() in the C locale, spelled out: the kernel's own list */
		if (s[i] == '/' || s[i] == ':' || s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))
			return 0;
	}
	return 1;
}
