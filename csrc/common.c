/* Shared helpers: error results in the luaposix style and table-field readers. */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int push_fail(lua_State *L, int err, int with_strerror, const char *fmt, va_list ap)
{
	char op[512];
	vsnprintf(op, sizeof op, fmt, ap);
	lua_pushnil(L);
	if (with_strerror)
		lua_pushfstring(L, "%s: %s", op, strerror(err));
	else
		lua_pushstring(L, op);
	lua_pushinteger(L, err);
	return 3;
}

int nsbox_fail(lua_State *L, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = push_fail(L, err, 1, fmt, ap);
	va_end(ap);
	return n;
}

int nsbox_fail_msg(lua_State *L, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = push_fail(L, err, 0, fmt, ap);
	va_end(ap);
	return n;
}

lua_Integer nsbox_opt_int_field(lua_State *L, int idx, const char *k, lua_Integer def)
{
	lua_Integer v = def;
	int t = lua_getfield(L, idx, k);
	if (t != LUA_TNIL) {
		int ok;
		v = lua_tointegerx(L, -1, &ok);
		if (!ok)
			luaL_error(L, "field '%s': integer expected, got %s", k, luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return v;
}

/* The string stays valid while the table holds it. */
const char *nsbox_opt_str_field(lua_State *L, int idx, const char *k, const char *def)
{
	const char *v = def;
	int t = lua_getfield(L, idx, k);
	if (t != LUA_TNIL) {
		if (t != LUA_TSTRING)
			luaL_error(L, "field '%s': string expected, got %s", k, luaL_typename(L, -1));
		v = lua_tostring(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

int nsbox_opt_bool_field(lua_State *L, int idx, const char *k, int def)
{
	int v = def;
	if (lua_getfield(L, idx, k) != LUA_TNIL)
		v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

int nsbox_check_fd(lua_State *L, int arg)
{
	lua_Integer fd = luaL_checkinteger(L, arg);
	luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, arg, "invalid file descriptor");
	return (int)fd;
}

void nsbox_set_consts(lua_State *L, const struct nsbox_const *c)
{
	for (; c->name; c++) {
		lua_pushinteger(L, c->value);
		lua_setfield(L, -2, c->name);
	}
}
