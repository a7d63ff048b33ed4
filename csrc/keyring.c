/* The session keyring: a container (and a process joining one) leaves the
 * caller's session keyring, whose keys it would otherwise possess and read. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <linux/keyctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long keyctl(int op, unsigned long a, unsigned long b, unsigned long c)
{
	return syscall(SYS_keyctl, op, a, b, c, 0UL);
}

/* possessor: everything; the owning uid: view, and (for the name lookup) search */
#define PERM_OWN 0x3f010000UL
#define PERM_FINDABLE 0x3f090000UL

static int join_fail(lua_State *L, int err)
{
	if (err != EDQUOT)
		return nsbox_fail(L, err, "session keyring: keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
	return nsbox_fail_msg(L, err, "session keyring: this user's key quota is exhausted "
			      "(/proc/key-users; /proc/sys/kernel/keys/maxkeys and maxbytes)");
}

/* A new anonymous session keyring, only its possessor may use it. */
static int join_anonymous(lua_State *L)
{
	long joined = keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0);
	if (joined < 0)
		return join_fail(L, errno);
	if (keyctl(KEYCTL_SETPERM, (unsigned long)joined, PERM_OWN, 0) < 0)
		return nsbox_fail(L, errno, "session keyring: keyctl(KEYCTL_SETPERM)");
	lua_pushinteger(L, joined);
	return 1;
}

/***
 * Leave the caller's session keyring for a new, empty one of this process's own.
 * A new anonymous keyring (KEYCTL_JOIN_SESSION_KEYRING, NULL) counts against the
 * uid's key quota (200 keys by default for a uid other than root), which a few
 * hundred containers of one user exhaust (runc's EDQUOT). A process keyring is
 * never refused for quota, so this process makes one (fresh: the kernel gives
 * none across fork or exec), lets its owner find it by name for a moment and
 * joins it by that name. The name is looked up in this user namespace: if another
 * process's keyring of that name came first (possible only in a namespace shared
 * with others), a new anonymous one is joined instead (in quota: a clear error
 * when it is full), so the result is never a keyring someone else holds.
 * In a user namespace shared with others (shared = true: the host's), the short
 * time the process keyring is findable would let another process of the uid
 * join it too: there the keyring is always a new anonymous one (root's quota
 * is a million keys; a clear error when it is full).
 * A kernel without keyrings (ENOSYS), or a process that may not use keyctl at
 * all (a seccomp filter's EPERM, which the container inherits), has nothing to hide.
 * @function join_session_keyring
 * @tparam[opt=false] boolean shared the user namespace is not this container's own
 * @treturn integer the serial of the keyring joined (0: no keyrings to leave)
 */
static int l_join_session_keyring(lua_State *L)
{
	int shared = lua_toboolean(L, 1);
	long id = keyctl(KEYCTL_GET_KEYRING_ID, (unsigned long)KEY_SPEC_PROCESS_KEYRING, 1, 0);
	if (id < 0) {
		int err = errno;
		if (err == ENOSYS ||
		    (err == EPERM && keyctl(KEYCTL_GET_KEYRING_ID, (unsigned long)KEY_SPEC_SESSION_KEYRING, 0, 0) < 0 &&
		     (errno == EPERM || errno == ENOSYS))) {
			lua_pushinteger(L, 0);
			return 1;
		}
		return nsbox_fail(L, err, "session keyring: keyctl(KEYCTL_GET_KEYRING_ID)");
	}
	if (shared)
		return join_anonymous(L);
	char desc[256];
	long n = keyctl(KEYCTL_DESCRIBE, (unsigned long)id, (unsigned long)desc, sizeof desc);
	if (n < 0)
		return nsbox_fail(L, errno, "session keyring: keyctl(KEYCTL_DESCRIBE)");
	if ((size_t)n > sizeof desc) /* not copied at all */
		return nsbox_fail_msg(L, ENAMETOOLONG, "session keyring: keyctl(KEYCTL_DESCRIBE): %ld bytes", n);
	desc[sizeof desc - 1] = '\0'; /* n counts the NUL */
	const char *name = strrchr(desc, ';'); /* "type;uid;gid;perm;description" */
	if (!name)
		return nsbox_fail_msg(L, EINVAL, "session keyring: odd key description '%s'", desc);
	name++;
	if (keyctl(KEYCTL_SETPERM, (unsigned long)id, PERM_FINDABLE, 0) < 0)
		return nsbox_fail(L, errno, "session keyring: keyctl(KEYCTL_SETPERM)");
	long joined = keyctl(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0);
	if (keyctl(KEYCTL_SETPERM, (unsigned long)id, PERM_OWN, 0) < 0)
		return nsbox_fail(L, errno, "session keyring: keyctl(KEYCTL_SETPERM)");
	/* another's keyring, 0 (the session keyring had that name already) or an
	 * error (a kernel whose process keyrings have a name no one may join) */
	if (joined != id)
		return join_anonymous(L);
	lua_pushinteger(L, joined);
	return 1;
}

void nsbox_open_keyring(lua_State *L)
{
	static const luaL_Reg fns[] = { { "join_session_keyring", l_join_session_keyring }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
