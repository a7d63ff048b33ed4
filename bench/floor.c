/* The floor: the least work that gives what an nsbox container gives by default
 * for /bin/true: clone3 into new user, mount, uts, ipc, pid, net and cgroup
 * namespaces, id maps written by the parent, /proc mounted, pivot_root into the
 * rootfs with the old root detached, a hostname, exec. No Lua, no /dev, no masks.
 *   floor [--full] ROOTFS [N [PARALLEL]]   runs N containers (default 1), PARALLEL at a time.
 * With --full first it also does, in C, the rest of what an
 * nsbox container does by default: /dev (tmpfs, six device binds, devpts, shm,
 * links), a read-only /sys, the OCI masked and read-only paths, lo up, the
 * capability bounding set, no_new_privs and setsid: the kernel's cost of nsbox's
 * defaults, to tell it from nsbox's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	_exit(125);
}

static void put(pid_t pid, const char *file, const char *data)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		die(path);
	close(fd);
}

static void bind_dev(const char *name)
{
	char src[64], dst[64];
	snprintf(src, sizeof src, "/dev/%s", name);
	snprintf(dst, sizeof dst, "dev/%s", name);
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || close(fd) < 0 || mount(src, dst, NULL, MS_BIND, NULL) < 0)
		die(dst);
}

/* nsbox's defaults beyond the floor, relative to the rootfs as cwd. */
static void full(void)
{
	const unsigned long nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
		die("dev");
	const char *devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
	for (size_t i = 0; i < sizeof devs / sizeof *devs; i++)
		bind_dev(devs[i]);
	if (mkdir("dev/pts", 0755) < 0 ||
	    mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0 ||
	    mkdir("dev/shm", 01777) < 0 || mount("shm", "dev/shm", "tmpfs", nodev, "mode=1777,size=65536k") < 0)
		die("dev/pts, dev/shm");
	const char *links[][2] = { { "/proc/self/fd", "dev/fd" }, { "/proc/self/fd/0", "dev/stdin" },
				   { "/proc/self/fd/1", "dev/stdout" }, { "/proc/self/fd/2", "dev/stderr" },
				   { "pts/ptmx", "dev/ptmx" } };
	for (size_t i = 0; i < sizeof links / sizeof *links; i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			die(links[i][1]);
	if (mount("sysfs", "sys", "sysfs", nodev | MS_RDONLY, NULL) < 0)
		die("sys");
	const char *masked[] = { "proc/acpi", "proc/asound", "proc/kcore", "proc/keys", "proc/latency_stats",
				 "proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi",
				 "sys/firmware", "sys/devices/virtual/powercap" };
	for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
		struct stat st;
		if (lstat(masked[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? mount("tmpfs", masked[i], "tmpfs", nodev | MS_RDONLY, "size=0,mode=555")
					: mount("/dev/null", masked[i], NULL, MS_BIND, NULL))
			die(masked[i]);
	}
	const char *ro[] = { "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger" };
	for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
		struct stat st;
		if (lstat(ro[i], &st) < 0)
			continue;
		if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | nodev, NULL) < 0)
			die(ro[i]);
	}
}

/* After pivot_root: lo up, the bounding set of 14, no_new_privs, a session. */
static void full_after(void)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		die("lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		die("lo up");
	close(fd);
	const unsigned long long keep = 0x800405fbULL; /* podman's 11, as nsbox */
	for (int cap = 0; cap < 64; cap++)
		if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			die("capbset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || setsid() < 0)
		die("no_new_privs, setsid");
}

static void child(const char *root, int go, int is_full)
{
	char c;
	if (read(go, &c, 1) != 1)
		_exit(125);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("mount /");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind rootfs");
	if (chdir(root) < 0)
		die("chdir");
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount proc");
	if (is_full)
		full();
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		die("umount old root");
	if (chdir("/") < 0 || sethostname("floor", 5) < 0)
		die("sethostname");
	if (is_full)
		full_after();
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };
	execve(argv[0], argv, envp);
	die("execve");
}

static pid_t start(const char *root, char *uidmap, char *gidmap, int is_full)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID |
		   CLONE_NEWNET | CLONE_NEWCGROUP;
	ca.exit_signal = SIGCHLD;
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
	if (pid < 0)
		die("clone3");
	if (pid == 0) {
		close(p[1]);
		child(root, p[0], is_full);
	}
	close(p[0]);
	put(pid, "setgroups", "deny");
	put(pid, "gid_map", gidmap);
	put(pid, "uid_map", uidmap);
	if (write(p[1], "g", 1) != 1)
		die("go");
	close(p[1]);
	return pid;
}

int main(int argc, char **argv)
{
	int is_full = argc > 1 && strcmp(argv[1], "--full") == 0;
	argc -= is_full, argv += is_full;
	if (argc < 2) {
		fprintf(stderr, "usage: floor [--full] ROOTFS [N [PARALLEL]]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 1, par = argc > 3 ? atol(argv[3]) : 1, running = 0, failed = 0;
	char uidmap[32], gidmap[32];
	snprintf(uidmap, sizeof uidmap, "0 %u 1", (unsigned)getuid());
	snprintf(gidmap, sizeof gidmap, "0 %u 1", (unsigned)getgid());
	for (long started = 0; started < n || running > 0;) {
		if (started < n && running < par) {
			start(argv[1], uidmap, gidmap, is_full);
			started++, running++;
			continue;
		}
		int st;
		if (wait(&st) < 0)
			die("wait");
		running--;
		failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return failed ? 1 : 0;
}
