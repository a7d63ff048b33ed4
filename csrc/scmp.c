/* nsbox.scmp: a seccomp profile compiled by libseccomp into a classic BPF
 * program, a module of its own (like nsbox.rtnl) so that only a process that
 * asks for a filter loads libseccomp. The profile is nsbox.seccomp's
 * normalized table, validated there: here a wrong type or name raises. The
 * program is loaded later, without libseccomp, by core.seccomp_load. */
#include "common.h"

#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/** The compiler of seccomp profiles into BPF programs (libseccomp).
 * nsbox.seccomp validates a profile and hands it here in this form:
 *
 *     { default_action = "errno", default_errno = 38,
 *       architectures = { "x86_64", "x86", "x32" },
 *       rules = { { names = { "ioctl" }, action = "errno", errno = 1,
 *                   args = { { index = 1, op = "masked_eq", value = 0xffffffff, value_two = 0x5412 } },
 *                   where = "seccomp.syscalls[3]" }, ... } }
 *
 * Actions: "allow", "errno", "kill" (the thread), "kill_thread",
 * "kill_process", "trap", "log", "trace"; errno (1 when left out) is the
 * errno of "errno" and the message of "trace". Ops: "ne", "lt", "le", "eq",
 * "ge", "gt", "masked_eq" (value is the mask, value_two the value, as in
 * libseccomp and the OCI profile). where names the rule in messages.
 * @module nsbox.scmp
 */

#define CTX_MT "nsbox.scmp.ctx"

/* What a compile holds, released by __close whether it returns or raises. */
struct held {
	scmp_filter_ctx ctx;
	int fd;
};

static int held_close(lua_State *L)
{
	struct held *h = luaL_checkudata(L, 1, CTX_MT);
	if (h->ctx)
		seccomp_release(h->ctx);
	h->ctx = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	return 0;
}

/* The action named by field k of the table at idx (with its errno field e). */
static uint32_t action_field(lua_State *L, int idx, const char *k, const char *e)
{
	const char *a = nsbox_opt_str_field(L, idx, k, NULL);
	lua_Integer n = nsbox_opt_int_field(L, idx, e, 1);
	if (!a)
		luaL_error(L, "field '%s': string expected, got no value", k);
	if ((!strcmp(a, "errno") || !strcmp(a, "trace")) && (n < 0 || n > 0xffff))
		luaL_error(L, "field '%s': %d out of 0..65535", e, (int)n);
	if (!strcmp(a, "allow"))
		return SCMP_ACT_ALLOW;
	if (!strcmp(a, "errno"))
		return SCMP_ACT_ERRNO((uint16_t)n);
	if (!strcmp(a, "kill") || !strcmp(a, "kill_thread"))
		return SCMP_ACT_KILL_THREAD;
	if (!strcmp(a, "kill_process"))
		return SCMP_ACT_KILL_PROCESS;
	if (!strcmp(a, "trap"))
		return SCMP_ACT_TRAP;
	if (!strcmp(a, "log"))
		return SCMP_ACT_LOG;
	if (!strcmp(a, "trace"))
		return SCMP_ACT_TRACE((uint16_t)n);
	luaL_error(L, "field '%s': unknown action '%s'", k, a);
	return 0;
}

static uint32_t arch_token(lua_State *L, const char *name)
{
	static const struct { const char *name; uint32_t token; } arches[] = {
		{ "x86_64", SCMP_ARCH_X86_64 }, { "x86", SCMP_ARCH_X86 }, { "x32", SCMP_ARCH_X32 },
		{ "aarch64", SCMP_ARCH_AARCH64 }, { "arm", SCMP_ARCH_ARM },
	};
	for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
		if (!strcmp(name, arches[i].name))
			return arches[i].token;
	luaL_error(L, "architectures: unknown architecture '%s'", name);
	return 0;
}

static enum scmp_compare op_of(lua_State *L, const char *op)
{
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE }, { "eq", SCMP_CMP_EQ },
		{ "ge", SCMP_CMP_GE }, { "gt", SCMP_CMP_GT }, { "masked_eq", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(op, ops[i].name))
			return ops[i].op;
	luaL_error(L, "field 'op': unknown comparison '%s'", op);
	return SCMP_CMP_EQ;
}

/* The comparisons of the rule at idx (its args list, up to 6): their count. */
static unsigned args_of(lua_State *L, int idx, struct scmp_arg_cmp *cmp)
{
	unsigned n = 0;
	if (lua_getfield(L, idx, "args") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		int t = lua_gettop(L);
		lua_Integer len = luaL_len(L, t);
		if (len > 6)
			luaL_error(L, "field 'args': %d comparisons, at most 6", (int)len);
		for (lua_Integer i = 1; i <= len; i++, n++) {
			lua_geti(L, t, i);
			luaL_checktype(L, -1, LUA_TTABLE);
			int a = lua_gettop(L);
			lua_Integer index = nsbox_opt_int_field(L, a, "index", -1);
			if (index < 0 || index > 5)
				luaL_error(L, "field 'index': %d out of 0..5", (int)index);
			const char *op = nsbox_opt_str_field(L, a, "op", "eq");
			cmp[n].arg = (unsigned)index;
			cmp[n].op = op_of(L, op);
			/* Lua's integers hold the 64 bits of the kernel's unsigned ones */
			cmp[n].datum_a = (scmp_datum_t)nsbox_opt_int_field(L, a, "value", 0);
			cmp[n].datum_b = (scmp_datum_t)nsbox_opt_int_field(L, a, "value_two", 0);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return n;
}

/* Add the rule at idx (the i-th) for each of its names; a name libseccomp does
 * not know goes into the set at skipped and its list at list. 0, or the
 * results of a failure pushed. */
static int add_rule(lua_State *L, scmp_filter_ctx ctx, int idx, lua_Integer i, int skipped, int list)
{
	struct scmp_arg_cmp cmp[6];
	uint32_t action = action_field(L, idx, "action", "errno");
	unsigned n = args_of(L, idx, cmp);
	const char *where = nsbox_opt_str_field(L, idx, "where", NULL);
	if (lua_getfield(L, idx, "names") != LUA_TTABLE)
		luaL_error(L, "rules[%d]: field 'names': table expected, got %s", (int)i, luaL_typename(L, -1));
	int names = lua_gettop(L);
	lua_Integer len = luaL_len(L, names);
	for (lua_Integer k = 1; k <= len; k++) {
		if (lua_geti(L, names, k) != LUA_TSTRING)
			luaL_error(L, "rules[%d]: names[%d]: string expected", (int)i, (int)k);
		const char *name = lua_tostring(L, -1);
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			/* a call of a newer kernel than libseccomp knows: skipped, as runc and crun do */
			if (lua_getfield(L, skipped, name) == LUA_TNIL) {
				lua_pushboolean(L, 1);
				lua_setfield(L, skipped, name);
				lua_pushvalue(L, -2);
				lua_seti(L, list, luaL_len(L, list) + 1);
			}
			lua_pop(L, 2);
			continue;
		}
		int rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
		if (rc < 0) {
			if (where)
				return nsbox_fail(L, -rc, "%s: seccomp_rule_add(%s)", where, name);
			return nsbox_fail(L, -rc, "rules[%d]: seccomp_rule_add(%s)", (int)i, name);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 0;
}

/* The program of the filter, read back from the memfd it is exported into
 * (libseccomp 2.5 exports to an fd only): pushed, or the failure's results. */
static int export(lua_State *L, struct held *h)
{
	h->fd = memfd_create("nsbox-seccomp", MFD_CLOEXEC);
	if (h->fd < 0)
		return nsbox_fail(L, errno, "memfd_create");
	int rc = seccomp_export_bpf(h->ctx, h->fd);
	if (rc < 0)
		return nsbox_fail(L, -rc, "seccomp_export_bpf");
	struct stat st;
	if (fstat(h->fd, &st) < 0)
		return nsbox_fail(L, errno, "fstat(seccomp program)");
	size_t size = (size_t)st.st_size, got = 0;
	if (size == 0 || size % 8) /* struct sock_filter: 8 bytes */
		return nsbox_fail_msg(L, EINVAL, "seccomp_export_bpf: a program of %zu bytes", size);
	luaL_Buffer b;
	char *p = luaL_buffinitsize(L, &b, size);
	while (got < size) {
		ssize_t r = pread(h->fd, p + got, size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return nsbox_fail(L, r < 0 ? errno : EIO, "read(seccomp program)");
		got += (size_t)r;
	}
	luaL_pushresultsize(&b, size);
	return 1;
}

/***
 * Compile a profile (the normalized table of nsbox.seccomp) into a classic
 * BPF program. The filter sets no no_new_privs of its own (nsbox sets it when
 * asked; the container's set-up process may load a filter without it). A call
 * name libseccomp does not know (a newer kernel's) is skipped, as runc and
 * crun do: the filter's default action covers it.
 * @function compile
 * @tparam table profile
 * @treturn string the program: an array of struct sock_filter
 * @treturn {string,...} the names skipped, each once
 */
static int l_compile(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	struct held *h = lua_newuserdatauv(L, sizeof *h, 0);
	h->ctx = NULL;
	h->fd = -1;
	luaL_setmetatable(L, CTX_MT);
	lua_toclose(L, 2);
	lua_newtable(L); /* 3: the names skipped, a set */
	lua_newtable(L); /* 4: and a list */
	uint32_t def = action_field(L, 1, "default_action", "default_errno");
	if (!(h->ctx = seccomp_init(def)))
		return nsbox_fail_msg(L, EINVAL, "seccomp_init: refused the default action");
	int rc = seccomp_attr_set(h->ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc == 0) /* the errno of a failed write of the program, not ECANCELED */
		rc = seccomp_attr_set(h->ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* The calls as a binary tree, not a list: a call the kernel cannot cache
	 * (one with arguments checked, or refused) runs a few dozen instructions,
	 * not up to a thousand, and the kernel's load (its cache of the
	 * always-allowed calls runs the program once per call number) takes 0.6 ms,
	 * not 1.5 (the default profile); the compile takes as long (25 ms). */
	if (rc == 0)
		rc = seccomp_attr_set(h->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0)
		return nsbox_fail(L, -rc, "seccomp_attr_set");
	if (lua_getfield(L, 1, "architectures") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		lua_Integer len = luaL_len(L, -1);
		for (lua_Integer i = 1; i <= len; i++) {
			if (lua_geti(L, -1, i) != LUA_TSTRING)
				luaL_error(L, "architectures[%d]: string expected", (int)i);
			const char *name = lua_tostring(L, -1);
			rc = seccomp_arch_add(h->ctx, arch_token(L, name));
			if (rc < 0 && rc != -EEXIST) /* the native one is there from the start */
				return nsbox_fail(L, -rc, "seccomp_arch_add(%s)", name);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "rules") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		int rules = lua_gettop(L);
		lua_Integer len = luaL_len(L, rules);
		for (lua_Integer i = 1; i <= len; i++) {
			lua_geti(L, rules, i);
			luaL_checktype(L, -1, LUA_TTABLE);
			if (add_rule(L, h->ctx, lua_gettop(L), i, 3, 4))
				return 3;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (export(L, h) != 1)
		return 3;
	lua_pushvalue(L, 4);
	return 2;
}

int luaopen_nsbox_scmp(lua_State *L)
{
	static const luaL_Reg fns[] = { { "compile", l_compile }, { NULL, NULL } };
	if (luaL_newmetatable(L, CTX_MT)) {
		lua_pushcfunction(L, held_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, held_close);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	luaL_newlib(L, fns);
	return 1;
}
