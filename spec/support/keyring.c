/* Session keyring probe for spec/session_spec.lua, built static by the spec.
 *   keyring add DESC VALUE CMD...  join a new session keyring, put a user key DESC
 *                                  in it, exec CMD with KEY_ID and KEY_SESSION set
 *   keyring fill CMD...            add user keys to the session keyring until the
 *                                  uid's quota refuses one for 2 s, then exec CMD
 *   keyring show DESC ID           inside: the session keyring's serial, how many
 *                                  keys it holds, DESC searched in it, key ID read
 *   keyring plant                  inside: a keyring named like a process keyring
 *                                  that its uid may find by name
 *   keyring desc                   inside: the session keyring's description */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long kc(int op, unsigned long a, unsigned long b, unsigned long c)
{
	return syscall(SYS_keyctl, op, a, b, c, 0UL);
}

static long add(const char *type, const char *desc, const char *val, long ring)
{
	return syscall(SYS_add_key, type, desc, val, val ? strlen(val) : 0, ring);
}

/* "value" of key id, or the error */
static const char *value(long id, char *buf, size_t len)
{
	long n = kc(KEYCTL_READ, (unsigned long)id, (unsigned long)buf, len - 1);
	if (n < 0)
		return strerror(errno);
	buf[(size_t)n < len ? (size_t)n : len - 1] = '\0';
	return buf;
}

static int run(char **argv)
{
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

int main(int argc, char **argv)
{
	char buf[256];
	if (argc >= 5 && strcmp(argv[1], "add") == 0) {
		long ses = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0);
		long id = add("user", argv[2], argv[3], KEY_SPEC_SESSION_KEYRING);
		if (ses < 0 || id < 0) {
			perror("keyring add");
			return 1;
		}
		snprintf(buf, sizeof buf, "%ld", id);
		setenv("KEY_ID", buf, 1);
		snprintf(buf, sizeof buf, "%ld", ses);
		setenv("KEY_SESSION", buf, 1);
		return run(argv + 4);
	}
	if (argc >= 3 && strcmp(argv[1], "fill") == 0) {
		/* A dead keyring (an exec's, just ended) counts in the quota until the
		 * key GC runs after an RCU grace period: the quota is full only once
		 * no key fits for a while (slow on an emulated VM). */
		int n = 0, refused = 0;
		while (refused < 40) {
			snprintf(buf, sizeof buf, "fill%d", n);
			if (add("user", buf, "x", KEY_SPEC_SESSION_KEYRING) >= 0) {
				n++, refused = 0;
				continue;
			}
			if (errno != EDQUOT) {
				perror("keyring fill");
				return 1;
			}
			refused++;
			usleep(50000);
		}
		fprintf(stderr, "filled %d keys\n", n);
		return run(argv + 2);
	}
	if (argc == 4 && strcmp(argv[1], "show") == 0) {
		long ses = kc(KEYCTL_GET_KEYRING_ID, (unsigned long)KEY_SPEC_SESSION_KEYRING, 0, 0);
		long n = kc(KEYCTL_READ, (unsigned long)KEY_SPEC_SESSION_KEYRING, 0, 0);
		long found = kc(KEYCTL_SEARCH, (unsigned long)KEY_SPEC_SESSION_KEYRING, (unsigned long)"user",
				(unsigned long)argv[2]);
		char s[128];
		snprintf(s, sizeof s, "%s", found < 0 ? strerror(errno) : value(found, buf, sizeof buf));
		printf("session=%ld keys=%ld search=%s read=%s\n", ses, n < 0 ? n : n / 4, s,
		       value(strtol(argv[3], NULL, 10), buf, sizeof buf));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "plant") == 0) {
		long id = add("keyring", "_pid", NULL, KEY_SPEC_SESSION_KEYRING);
		if (id < 0 || kc(KEYCTL_SETPERM, (unsigned long)id, 0x3f090000UL, 0) < 0) {
			perror("keyring plant");
			return 1;
		}
		printf("planted %ld\n", id);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "desc") == 0) {
		if (kc(KEYCTL_DESCRIBE, (unsigned long)KEY_SPEC_SESSION_KEYRING, (unsigned long)buf, sizeof buf) < 0) {
			perror("keyring desc");
			return 1;
		}
		buf[sizeof buf - 1] = '\0';
		printf("%s\n", buf);
		return 0;
	}
	fprintf(stderr, "usage: keyring add DESC VALUE CMD... | fill CMD... | show DESC ID | plant | desc\n");
	return 2;
}
