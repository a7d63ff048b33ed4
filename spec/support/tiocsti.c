/* TIOCSTI probe for spec/hardening_spec.lua: try to push a command line into the
 * terminal on fd 0, as CVE-2017-5226 did through bubblewrap, and print what the
 * kernel answered. Built static by the spec, bound into the container. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

int main(void)
{
	const char *line = "echo INJECTED\n";
	for (const char *p = line; *p; p++) {
		if (ioctl(0, TIOCSTI, p) < 0) {
			printf("TIOCSTI: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("TIOCSTI: injected\n");
	return 0;
}
