/* Loading a seccomp filter: the kernel's own call on a program compiled
 * beforehand (nsbox.scmp), so that nsbox.core needs no libseccomp and the
 * container's set-up process loads it with one system call. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

/***
 * Install a seccomp filter on this thread: seccomp(SECCOMP_SET_MODE_FILTER)
 * with no flags, which the kernel allows a process that has no_new_privs or
 * CAP_SYS_ADMIN in its user namespace (EACCES otherwise). Filters stack: each
 * call adds one, and every system call runs them all, the strictest answer
 * winning. The filter stays for good, across fork and exec.
 * @function seccomp_load
 * @tparam string bpf the program: an array of struct sock_filter (8 bytes
 * each), at most BPF_MAXINSNS of them (nsbox.scmp.compile's result)
 * @treturn boolean true
 */
static int l_seccomp_load(lua_State *L)
{
	size_t n;
	const char *bpf = luaL_checklstring(L, 1, &n);
	size_t insns = n / sizeof(struct sock_filter);
	luaL_argcheck(L, n > 0 && n % sizeof(struct sock_filter) == 0, 1,
		      "not a BPF program (a nonzero multiple of 8 bytes)");
	luaL_argcheck(L, insns <= BPF_MAXINSNS, 1, "more than BPF_MAXINSNS (4096) instructions");
	struct sock_fprog prog = { .len = (unsigned short)insns, .filter = (struct sock_filter *)bpf };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return nsbox_fail(L, errno, "seccomp(SET_MODE_FILTER)");
	lua_pushboolean(L, 1);
	return 1;
}

/* core.seccomp_arch: the architecture this module was built for, the native
 * one of the filters nsbox makes (nsbox.seccomp lists its other ABIs). */
#if defined(__x86_64__)
#define NATIVE_ARCH "x86_64"
#elif defined(__aarch64__)
#define NATIVE_ARCH "aarch64"
#else
#define NATIVE_ARCH "unknown"
#endif

void nsbox_open_seccomp(lua_State *L)
{
	static const luaL_Reg fns[] = { { "seccomp_load", l_seccomp_load }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
	lua_pushliteral(L, NATIVE_ARCH);
	lua_setfield(L, -2, "seccomp_arch");
}
