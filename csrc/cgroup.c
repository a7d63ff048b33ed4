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
#include <sys/syscall.h>
#include <unistd.h>
#include <dirent.h>

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

/* The pids cgroup.procs of dir lists, at most max: their number. */
static int listed(int dir, long *pids, int max)
{
	int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[4096];
	ssize_t r;
	size_t have = 0;
	int n = 0;
	while (n < max && (r = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
		have += (size_t)r;
		buf[have] = 0;
		char *p = buf, *nl;
		while (n < max && (nl = strchr(p, '\n'))) {
			*nl = 0;
			long pid = strtol(p, NULL, 10);
			if (pid > 0)
				pids[n++] = pid;
			p = nl + 1;
		}
		have = strlen(p);
		memmove(buf, p, have);
	}
	close(fd);
	return n;
}

/* v1 has no cgroup.kill: SIGKILL what cgroup.procs lists, through pidfds
 * opened first and signalled only for pids still listed after: a pid that
 * exited and was reused by a process outside between the read and the open is
 * not listed the second time (nothing outside is ever moved in). */
static void kill_listed(int dir)
{
	enum { MAX = 256 };
	long pids[MAX], again[MAX];
	int fds[MAX];
	int n = listed(dir, pids, MAX);
	for (int i = 0; i < n; i++)
		fds[i] = (int)syscall(SYS_pidfd_open, (pid_t)pids[i], 0);
	int m = listed(dir, again, MAX);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		for (int j = 0; j < m; j++)
			if (again[j] == pids[i]) {
				syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
				break;
			}
		close(fds[i]);
	}
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
			struct timespec ts = { 0, 1000000 }; /* empty: a child cgroup going, not a process */
			close(fd);
			nanosleep(&ts, NULL);
			return;
		}
	}
	struct pollfd pf = { .fd = fd, .events = POLLPRI };
	poll(&pf, 1, ms > 0 ? ms : 0);
	close(fd);
}

/* Remove the cgroup name under parent and everything below it, children
 * first (a cgroup with children is EBUSY to rmdir): kill what runs in it,
 * rmdir, retried until it is empty or end (ms, CLOCK_MONOTONIC) has passed.
 * 0 or an errno. depth bounds the walk. */
static int remove_tree(int parent, const char *name, long long end, int depth, int v1)
{
	int dir = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? 0 : errno;
	/* v2's cgroup.kill takes the whole subtree: written at the top only */
	if (depth == 0)
		v1 = write_file(dir, "cgroup.kill", "1") == ENOENT;
	int e = 0;
	for (;;) {
		int sub = depth < 32 ? dup(dir) : -1;
		DIR *d = sub >= 0 ? fdopendir(sub) : NULL;
		if (d) {
			struct dirent *de;
			while ((de = readdir(d)))
				if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					remove_tree(dir, de->d_name, end, depth + 1, v1);
			closedir(d);
		} else if (sub >= 0) {
			close(sub);
		}
		if (v1)
			kill_listed(dir);
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
			e = 0;
			break;
		}
		e = errno;
		long long left = end - now_ms();
		if (e != EBUSY || left <= 0)
			break;
		await_empty(dir, (int)(left < 100 ? left : 100));
	}
	close(dir);
	return e;
}

/***
 * Remove the cgroup name of the directory dirfd, the cgroups below it, and
 * whatever still runs in them: every process is killed (cgroup.kill on v2,
 * SIGKILL through a pidfd to each pid of cgroup.procs on v1), then rmdir,
 * children first, retried until the last process has left or timeout_ms has
 * passed. A cgroup that is not there is no error.
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
	int e = remove_tree(parent, name, now_ms() + timeout, 0, 0);
	if (e)
		return nsbox_fail(L, e, "rmdir(%s)", name);
	lua_pushboolean(L, 1);
	return 1;
}

void nsbox_open_cgroup(lua_State *L)
{
	static const luaL_Reg fns[] = { { "cgroup_remove", l_cgroup_remove }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
