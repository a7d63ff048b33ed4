/* cgroups: the removal of a container's cgroup once its processes are gone.
 * Making one and writing its limits are plain file writes (nsbox.cgroup);
 * the clone into one is spawn's `cgroup` field. */
#include "common.h"

/*** @module nsbox.core */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write s to the file name of directory dir: 0 or an errno. One write(2): a
 * cgroup file takes one value per write. */
static int write_file(int dir, const char *name, const char *s)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t n = strlen(s);
	int e = write(fd, s, n) == (ssize_t)n ? 0 : errno;
	close(fd);
	return e;
}

/* v1 has no cgroup.kill: SIGKILL every pid its cgroup.procs lists. A pid read
 * there is a member of this cgroup, which only the container's processes are. */
static void kill_listed(int dir)
{
	int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[4096];
	ssize_t r;
	size_t have = 0;
	while ((r = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
		have += (size_t)r;
		buf[have] = 0;
		char *p = buf, *nl;
		while ((nl = strchr(p, '\n'))) {
			*nl = 0;
			long pid = strtol(p, NULL, 10);
			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			p = nl + 1;
		}
		have = strlen(p);
		memmove(buf, p, have);
	}
	close(fd);
}

/* Wait up to ms for a v2 cgroup's "populated 0" (cgroup.events signals a
 * change with POLLPRI); v1 has no such file: a short sleep. */
static void await_empty(int dir, int ms)
{
	int fd = openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		return;
	}
	char buf[256];
	ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
	if (r > 0) {
		buf[r] = 0;
		if (!strstr(buf, "populated 1")) {
			close(fd);
			return;
		}
	}
	struct pollfd pf = { .fd = fd, .events = POLLPRI };
	poll(&pf, 1, ms > 0 ? ms : 0);
	close(fd);
}

/***
 * Remove the cgroup name of the directory dirfd and whatever still runs in it:
 * every process is killed (cgroup.kill on v2, SIGKILL to each pid of
 * cgroup.procs on v1), then rmdir, retried until the last one has left or
 * timeout_ms has passed. A cgroup that is not there is no error.
 * @function cgroup_remove
 * @tparam integer dirfd the parent cgroup's directory
 * @tparam string name
 * @tparam[opt=2000] integer timeout_ms
 */
static int l_cgroup_remove(lua_State *L)
{
	int parent = nsbox_check_fd(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lua_Integer timeout = luaL_optinteger(L, 3, 2000);
	int dir = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		if (errno == ENOENT)
			goto gone;
		return nsbox_fail(L, errno, "open(%s)", name);
	}
	int v1 = write_file(dir, "cgroup.kill", "1") == ENOENT;
	long long end = now_ms() + timeout;
	int e;
	for (;;) {
		if (v1)
			kill_listed(dir);
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
			close(dir);
			goto gone;
		}
		e = errno;
		long long left = end - now_ms();
		if (e != EBUSY || left <= 0)
			break;
		await_empty(dir, (int)(left < 100 ? left : 100));
	}
	close(dir);
	return nsbox_fail(L, e, "rmdir(%s)", name);
gone:
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_cgroup(lua_State *L)
{
	static const luaL_Reg fns[] = { { "cgroup_remove", l_cgroup_remove }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
