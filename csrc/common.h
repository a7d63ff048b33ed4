/* Shared helpers for the nsbox.core C module: error pushing, table fields,
 * and the per-file registration hooks that core.c calls. */
#ifndef NSBOX_COMMON_H
#define NSBOX_COMMON_H

#define _GNU_SOURCE
#include <lua.h>
#include <lauxlib.h>

/* Push nil, "<formatted op>: strerror(err)", err and return 3. */
int nsbox_fail(lua_State *L, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Push nil, "<formatted message>", err (no strerror) and return 3. */
int nsbox_fail_msg(lua_State *L, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Optional fields of a table argument at index idx; raise on a wrong type. */
lua_Integer nsbox_opt_int_field(lua_State *L, int idx, const char *k, lua_Integer def);
const char *nsbox_opt_str_field(lua_State *L, int idx, const char *k, const char *def);
int nsbox_opt_bool_field(lua_State *L, int idx, const char *k, int def);

/* An fd argument: an integer >= 0. */
int nsbox_check_fd(lua_State *L, int arg);

/* openat2(2) (O_CLOEXEC added, EAGAIN retried): an fd, or -1 with errno. NSBOX_NEW_FILE:
 * the flags that make a new empty file and never open an existing name or a link. */
int nsbox_open2(int dirfd, const char *path, int flags, unsigned mode, unsigned long long resolve);
#define NSBOX_NEW_FILE (O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW)

/* move_mount(2) of the detached mount tree onto the fd place; tree is closed, errno kept. */
int nsbox_attach(int tree, int place);

/* fsopen, fsconfig of source and of data ("k=v,flag"), fsmount with attrs: a detached
 * mount's fd, or -1 with errno (and the option refused in bad, if one was). */
int nsbox_fsmount(const char *type, const char *source, const char *data, unsigned attrs, char *bad,
		  unsigned long badlen);

/* Each file adds its functions (and constants) to the table on the top of the stack. */
void nsbox_open_spawn(lua_State *L);
void nsbox_open_wait(lua_State *L);
void nsbox_open_fdio(lua_State *L);
void nsbox_open_privs(lua_State *L);
void nsbox_open_environ(lua_State *L);
void nsbox_open_errno(lua_State *L);
void nsbox_open_namespace(lua_State *L);
void nsbox_open_mount(lua_State *L);
void nsbox_open_fs(lua_State *L);
void nsbox_open_dirat(lua_State *L);
void nsbox_open_resolve(lua_State *L);
void nsbox_open_lease(lua_State *L);
void nsbox_open_netdev(lua_State *L);
void nsbox_open_garp(lua_State *L);
void nsbox_open_rules(lua_State *L);
void nsbox_open_keyring(lua_State *L);
void nsbox_open_mask(lua_State *L);
void nsbox_open_devices(lua_State *L);
void nsbox_open_overlay(lua_State *L);
void nsbox_open_idmapped(lua_State *L);
void nsbox_open_seccomp(lua_State *L);
void nsbox_open_cgroup(lua_State *L);
void nsbox_open_rlimit(lua_State *L);
void nsbox_open_pty(lua_State *L);
void nsbox_open_unix(lua_State *L);
void nsbox_open_inet(lua_State *L);
/* rtnl.c pushes a new table: the module nsbox.rtnl, which is core.rtnl */
int nsbox_open_rtnl(lua_State *L);

/* Set integer constants in the table at the top of the stack. */
struct nsbox_const { const char *name; lua_Integer value; };
void nsbox_set_consts(lua_State *L, const struct nsbox_const *c);

#endif
