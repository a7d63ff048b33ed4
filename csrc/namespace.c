/* Namespaces: unshare, setns, uid/gid maps and setgroups, credentials, UTS names. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/***
 * unshare(2).
 * @function unshare
 * @tparam integer flags CLONE_NEW* bits
 */
static int l_unshare(lua_State *L)
{
	int flags = (int)luaL_checkinteger(L, 1);
	if (unshare(flags) < 0)
		return nsbox_fail(L, errno, "unshare(0x%x)", (unsigned)flags);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * setns(2): join a namespace given by an fd (a namespace fd or a pidfd) or by a path
 * such as /proc/PID/ns/net.
 * @function setns
 * @tparam integer|string target fd or path
 * @tparam[opt] integer nstype CLONE_NEW* bits (0: any; with a pidfd, the set to join)
 */
static int l_setns(lua_State *L)
{
	int nstype = (int)luaL_optinteger(L, 2, 0);
	if (lua_type(L, 1) == LUA_TSTRING) {
		const char *path = lua_tostring(L, 1);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return nsbox_fail(L, errno, "setns(%s)", path);
		int r = setns(fd, nstype);
		int e = errno;
		close(fd);
		if (r < 0)
			return nsbox_fail(L, e, "setns(%s)", path);
	} else {
		int fd = nsbox_check_fd(L, 1);
		if (setns(fd, nstype) < 0)
			return nsbox_fail(L, errno, "setns(fd %d)", fd);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * Open a namespace file (/proc/self/ns/net, ...) for a later setns: the way back
 * after a setns elsewhere.
 * @function open_ns
 * @tparam string path
 * @treturn integer fd (close-on-exec)
 */
static int l_open_ns(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nsbox_fail(L, errno, "open(%s)", path);
	lua_pushinteger(L, fd);
	return 1;
}

/* Write a whole small string to /proc/PID/<name> in one write(2), as the kernel requires. */
static int proc_write(lua_State *L, lua_Integer pid, const char *name, const char *data, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%lld/%s", (long long)pid, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return nsbox_fail(L, errno, "open(%s)", path);
	ssize_t r = write(fd, data, len);
	int e = errno;
	close(fd);
	if (r != (ssize_t)len)
		return nsbox_fail(L, r < 0 ? e : EIO, "write(%s)", path);
	lua_pushboolean(L, 1);
	return 1;
}

static lua_Integer map_field(lua_State *L, int t, const char *k, lua_Integer min)
{
	lua_getfield(L, t, k);
	int ok;
	lua_Integer v = lua_tointegerx(L, -1, &ok);
	if (!ok || v < min || v > 0xffffffffLL)
		luaL_error(L, "id map field '%s': integer in [%d, 4294967295] expected", k, (int)min);
	lua_pop(L, 1);
	return v;
}

/***
 * Write /proc/PID/uid_map or gid_map.
 * @function id_map
 * @tparam integer pid
 * @tparam string kind "uid" or "gid"
 * @tparam table maps array of { inside =, outside =, count = }
 */
static int l_id_map(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	const char *kind = luaL_checkstring(L, 2);
	luaL_argcheck(L, !strcmp(kind, "uid") || !strcmp(kind, "gid"), 2, "\"uid\" or \"gid\" expected");
	luaL_checktype(L, 3, LUA_TTABLE);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	lua_Integer n = luaL_len(L, 3);
	luaL_argcheck(L, n >= 1 && n <= 340, 3, "1 to 340 map entries expected");
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 3, i);
		int t = lua_gettop(L);
		luaL_checktype(L, t, LUA_TTABLE);
		char line[64];
		snprintf(line, sizeof line, "%lld %lld %lld\n", (long long)map_field(L, t, "inside", 0),
			 (long long)map_field(L, t, "outside", 0), (long long)map_field(L, t, "count", 1));
		lua_pop(L, 1);
		luaL_addstring(&b, line);
	}
	luaL_pushresult(&b);
	size_t len;
	const char *data = lua_tolstring(L, -1, &len);
	return proc_write(L, pid, !strcmp(kind, "uid") ? "uid_map" : "gid_map", data, len);
}

/***
 * Write /proc/PID/setgroups ("deny" or "allow").
 * @function setgroups
 * @tparam integer pid
 * @tparam string what "deny" or "allow"
 */
static int l_setgroups(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	size_t len;
	const char *what = luaL_checklstring(L, 2, &len);
	luaL_argcheck(L, !strcmp(what, "deny") || !strcmp(what, "allow"), 2, "\"deny\" or \"allow\" expected");
	return proc_write(L, pid, "setgroups", what, len);
}

/***
 * setresuid(2).
 * @function setresuid
 */
static int l_setresuid(lua_State *L)
{
	uid_t r = (uid_t)luaL_checkinteger(L, 1);
	uid_t e = (uid_t)luaL_optinteger(L, 2, r), s = (uid_t)luaL_optinteger(L, 3, r);
	if (setresuid(r, e, s) < 0)
		return nsbox_fail(L, errno, "setresuid(%u)", (unsigned)r);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * setresgid(2).
 * @function setresgid
 */
static int l_setresgid(lua_State *L)
{
	gid_t r = (gid_t)luaL_checkinteger(L, 1);
	gid_t e = (gid_t)luaL_optinteger(L, 2, r), s = (gid_t)luaL_optinteger(L, 3, r);
	if (setresgid(r, e, s) < 0)
		return nsbox_fail(L, errno, "setresgid(%u)", (unsigned)r);
	lua_pushboolean(L, 1);
	return 1;
}

static int set_name(lua_State *L, int (*fn)(const char *, size_t), const char *op)
{
	size_t len;
	const char *name = luaL_checklstring(L, 1, &len);
	if (fn(name, len) < 0)
		return nsbox_fail(L, errno, "%s(%s)", op, name);
	lua_pushboolean(L, 1);
	return 1;
}

/***
 * sethostname(2).
 * @function sethostname
 * @tparam string name
 */
static int l_sethostname(lua_State *L)
{
	return set_name(L, sethostname, "sethostname");
}

/***
 * setdomainname(2).
 * @function setdomainname
 * @tparam string name
 */
static int l_setdomainname(lua_State *L)
{
	return set_name(L, setdomainname, "setdomainname");
}

void nsbox_open_namespace(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "unshare", l_unshare }, { "setns", l_setns }, { "open_ns", l_open_ns }, { "id_map", l_id_map },
		{ "setgroups", l_setgroups }, { "setresuid", l_setresuid }, { "setresgid", l_setresgid },
		{ "sethostname", l_sethostname }, { "setdomainname", l_setdomainname }, { NULL, NULL }
	};
	static const struct nsbox_const consts[] = {
		{ "CLONE_NEWUSER", CLONE_NEWUSER }, { "CLONE_NEWNS", CLONE_NEWNS },
		{ "CLONE_NEWUTS", CLONE_NEWUTS }, { "CLONE_NEWIPC", CLONE_NEWIPC },
		{ "CLONE_NEWPID", CLONE_NEWPID }, { "CLONE_NEWNET", CLONE_NEWNET },
		{ "CLONE_NEWCGROUP", CLONE_NEWCGROUP }, { "CLONE_NEWTIME", 0x00000080 },
		{ NULL, 0 }
	};
	luaL_setfuncs(L, fns, 0);
	nsbox_set_consts(L, consts);
}
