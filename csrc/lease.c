/* Address leases on a bridge (see lease.h): a directory per (netns, bridge), a lock
 * file flock'ed around every change, one file per leased address naming its owner
 * and the uid it was leased to. Without a requested address, the first address
 * after the one handed out last that has no lease file is taken (no directory
 * read, whatever the number of leases); only when every address has one are the
 * owners checked and the first stale lease reclaimed. Only a bridge with a quota
 * reads the directory, to count the uid's live leases (over_quota). */
#define _GNU_SOURCE
#include "lease.h"
#include "addr.h"
#include "ifname.h"
#include "starttime.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(struct lease_error *e, const char *arg, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct lease_error *e, const char *arg, int err, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->arg = arg;
	}
	return err;
}

static int bridge_ok(const char *bridge)
{
	return nsbox_ifname_ok(bridge, strlen(bridge));
}

static uint32_t mask_of(int prefix)
{
	return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : 0xffffffffu << (32 - prefix);
}

int lease_check(uint32_t gateway, int prefix, uint32_t addr, struct lease_error *e)
{
	char a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
	uint32_t m = mask_of(prefix), net = gateway & m;
	nsbox_ip4_format(addr, a);
	nsbox_ip4_format(net, n);
	if ((addr & m) != net)
		return fail(e, "address", EINVAL, "%s is outside %s/%d", a, n, prefix);
	if (addr == net || addr == (net | ~m) || addr == gateway)
		return fail(e, "address", EINVAL, "%s is the %s address of %s/%d", a,
			    addr == gateway ? "gateway" : addr == net ? "network" : "broadcast", n, prefix);
	return 0;
}

static int alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	return pid > 0 && nsbox_starttime(pid, &now) == 0 && now == start;
}

/* No process has this uid (setresuid takes -1 as "unchanged"): the uid of a lease
 * file written before uids were recorded, which no quota counts. */
#define NOUID ((uid_t)-1)

/* What a lease file says: its owner (pid 0: stale content) and the uid it was leased to. */
struct holder {
	pid_t pid;
	uid_t uid;
	unsigned long long start;
};

/* The holder of the lease file name in dfd: 0 if none, -1 if unreadable, else 1. */
static int lease_read(int dfd, const char *name, struct holder *h)
{
	char buf[64];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	int p = 0;
	unsigned u;
	buf[n > 0 ? n : 0] = '\0';
	int got = sscanf(buf, "%d %llu %u", &p, &h->start, &u);
	if (got < 2 || p <= 0)
		p = 0, h->start = 0; /* torn or foreign content: stale */
	h->pid = p;
	h->uid = got == 3 ? (uid_t)u : NOUID;
	return 1;
}

/* Open <dir>/<netns inode>-<bridge> (creating the path if create) and lock it.
 * That directory is 0700 and its lock 0600: flock needs only an open fd, so a
 * user who could open the lock could hold it and stall every attach on the
 * bridge, root's and the setuid helper's (which its caller cannot kill). One
 * an earlier version made 0755 is closed when next opened. */
static int open_locked(const char *dir, const char *bridge, int create, int *lockfd,
		       char *path, size_t pathlen)
{
	struct stat st;
	snprintf(path, pathlen, "%s", dir);
	if (stat("/proc/self/ns/net", &st) < 0)
		return -1;
	snprintf(path, pathlen, "%s/%llu-%s", dir, (unsigned long long)st.st_ino, bridge);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0 && errno == ENOENT && create) /* mkdir -p, the first time only */
		for (char *p = path + 1;; p++) {
			if (*p != '/' && *p)
				continue;
			char c = *p;
			*p = '\0';
			int r = mkdir(path, c ? 0755 : 0700);
			*p = c;
			if (r < 0 && errno != EEXIST)
				return -1;
			if (!c)
				break;
		}
	if (dfd < 0)
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077))
		(void)!fchmod(dfd, 0700);
	*lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*lockfd < 0 || flock(*lockfd, LOCK_EX) < 0) {
		int e = errno;
		if (*lockfd >= 0)
			close(*lockfd);
		close(dfd);
		return errno = e, -1;
	}
	return dfd;
}

/* 1 if the lease of addr (named a) has a live owner, 0 if it is free or stale, -1 on error. */
static int taken(int dfd, const char *a)
{
	struct holder h;
	int have = lease_read(dfd, a, &h);
	return have < 0 ? -1 : have && alive(h.pid, h.start);
}

/* 1 if uid holds quota live leases in dfd already, 0 if not, -1 on error. Counted
 * from the lease files, under the lock, at each acquire: a count kept beside them
 * would be wrong as soon as an owner dies without releasing (nobody counts it down),
 * while the files say who is alive, as a reclaim reads them; stale leases of uid
 * count for nothing. The uid is the one recorded at lease time, not the owner's
 * now, which a process in a user namespace of its own may change. The cost, a
 * directory read and a file read per lease, falls on bridges with a quota only. */
static int over_quota(int dfd, uid_t uid, unsigned quota)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return errno = e, -1;
	}
	unsigned n = 0;
	int r = 0;
	while (n < quota && r >= 0) {
		errno = 0;
		struct dirent *de = readdir(d);
		struct holder h;
		if (!de) {
			r = errno ? -1 : 0;
			break;
		}
		/* addresses only: not ".", ".." or "lock" */
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && (r = lease_read(dfd, de->d_name, &h)) > 0)
			n += h.uid == uid && alive(h.pid, h.start);
	}
	int e = errno;
	closedir(d);
	return r < 0 ? (errno = e, -1) : n >= quota;
}

int lease_acquire(const char *dir, const char *bridge, uint32_t gateway, int prefix,
		  uint32_t want, pid_t owner, uid_t uid, unsigned quota, uint32_t *got,
		  struct lease_error *e)
{
	char path[4096], a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
	if (!bridge_ok(bridge))
		return fail(e, "bridge", EINVAL, "invalid interface name '%s'", bridge);
	if (prefix < 1 || prefix > 30)
		return fail(e, "gateway", EINVAL, "a /%d subnet has no address to lease", prefix);
	uint32_t m = mask_of(prefix), net = gateway & m, bcast = net | ~m, pick = 0;
	nsbox_ip4_format(net, n);
	if (gateway == net || gateway == bcast)
		return fail(e, "gateway", EINVAL, "%s is the %s address of %s/%d",
			    nsbox_ip4_format(gateway, a), gateway == net ? "network" : "broadcast", n, prefix);
	int r = want ? lease_check(gateway, prefix, want, e) : 0;
	if (r)
		return r;
	unsigned long long ostart;
	if (nsbox_starttime(owner, &ostart) < 0)
		return fail(e, NULL, ESRCH, "owner pid %d is not running", (int)owner);
	int lockfd, dfd = open_locked(dir, bridge, 1, &lockfd, path, sizeof path);
	if (dfd < 0)
		return fail(e, NULL, errno, "lease directory %s: %s", path, strerror(errno));
	r = quota ? over_quota(dfd, uid, quota) : 0;
	if (r > 0) {
		r = fail(e, NULL, EDQUOT, "uid %u holds %u addresses on %s, its quota", (unsigned)uid, quota, bridge);
	} else if (r == 0 && want) {
		r = taken(dfd, nsbox_ip4_format(want, a));
		if (r == 1)
			r = fail(e, "address", EADDRINUSE, "%s is already in use on %s", a, bridge);
		pick = r ? 0 : want;
	} else if (r == 0) {
		/* The first address without a lease file after the one handed out last
		 * (the lock file keeps it), wrapping: an address just released is not
		 * handed out again at once, while its old veth may still be in the
		 * kernel's clean-up of the dead container's namespace. Looked at one by
		 * one from there: the next is nearly always free, so the cost does not
		 * grow with the leases held (no directory read). */
		uint32_t last = 0, span = bcast - net - 1;
		if (pread(lockfd, &last, sizeof last, 0) != (ssize_t)sizeof last || last <= net || last >= bcast)
			last = net;
		for (uint32_t k = 1; k <= span && !pick && r >= 0; k++) {
			uint32_t c = net + 1 + (last - net - 1 + k) % span;
			struct stat st;
			if (c == gateway)
				continue;
			if (fstatat(dfd, nsbox_ip4_format(c, a), &st, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			if (errno == ENOENT)
				pick = c;
			else
				r = -1;
		}
		/* None: the first lease whose owner is gone, round from the cursor too. */
		for (uint32_t k = 1; k <= span && !pick && r >= 0; k++) {
			uint32_t c = net + 1 + (last - net - 1 + k) % span;
			if (c != gateway && (r = taken(dfd, nsbox_ip4_format(c, a))) == 0)
				pick = c;
		}
		r = r < 0 ? r : 0;
	}
	if (r < 0)
		r = fail(e, NULL, errno, "leases in %s: %s", path, strerror(errno));
	if (pick) {
		char line[64];
		int len = snprintf(line, sizeof line, "%d %llu %u\n", (int)owner, ostart, (unsigned)uid);
		int fd = openat(dfd, nsbox_ip4_format(pick, a), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		ssize_t w = fd < 0 ? -1 : write(fd, line, (size_t)len);
		int we = w < 0 ? errno : w != len ? EIO : 0;
		if (fd >= 0 && close(fd) < 0 && !we)
			we = errno;
		if (we && fd >= 0)
			unlinkat(dfd, a, 0);
		if (we)
			r = fail(e, NULL, we, "lease %s/%s: %s", path, a, strerror(we));
		else
			*got = pick;
		if (!we && !want) /* a hint only: if it is lost, the next pick starts lower */
			(void)!pwrite(lockfd, &pick, sizeof pick, 0);
	} else if (!r) {
		r = fail(e, NULL, ENOSPC, "no free address in %s/%d on %s", n, prefix, bridge);
	}
	close(lockfd);
	close(dfd);
	return r;
}

int lease_release(const char *dir, const char *bridge, uint32_t addr, pid_t owner)
{
	char path[4096], a[INET_ADDRSTRLEN];
	if (!bridge_ok(bridge))
		return EINVAL;
	int lockfd, dfd = open_locked(dir, bridge, 0, &lockfd, path, sizeof path);
	if (dfd < 0)
		return errno;
	struct holder h;
	int have = lease_read(dfd, nsbox_ip4_format(addr, a), &h), r = 0;
	if (have <= 0)
		r = have < 0 ? errno : ENOENT;
	else if (h.pid != owner)
		r = EPERM;
	else if (unlinkat(dfd, a, 0) < 0)
		r = errno;
	close(lockfd);
	close(dfd);
	return r;
}
