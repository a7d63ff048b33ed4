/* The floor: the least work that gives what an nsbox container gives by default
 * for /bin/true: clone3 into new user, mount, uts, ipc, pid, net and cgroup
 * namespaces, id maps written by the parent, /proc mounted, pivot_root into the
 * rootfs with the old root detached, a hostname, exec. No Lua, no /dev, no masks.
 *   floor [--full] [--image] ROOTFS [N [PARALLEL]]   runs N containers (default 1), PARALLEL at a time.
 * With --full it also does, in C, the rest of what an
 * nsbox container does by default: /dev (tmpfs, six device binds, devpts, shm,
 * links), a read-only /sys, the OCI masked and read-only paths, lo up, the
 * capability bounding set, no_new_privs and setsid: the kernel's cost of nsbox's
 * defaults, to tell it from nsbox's own. With --image (as root), issue 12's
 * defaults too: a range of 65536 ids (0 -> RANGE), the image cloned and
 * idmapped through the child's user namespace by the parent and passed over a
 * socket, a private tmpfs on /tmp holding the clone and the upper layer, with
 * /etc/hostname, hosts and resolv.conf put in it, and an overlay as the root. */
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
#include <linux/mount.h>
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

#define RANGE 0x7f000000u

static void send_fd(int sock, int fd)
{
	char c = 'g', buf[CMSG_SPACE(sizeof fd)];
	struct iovec io = { &c, 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof fd);
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	if (sendmsg(sock, &m, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char c, buf[CMSG_SPACE(sizeof(int))];
	struct iovec io = { &c, 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf };
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1 || !CMSG_FIRSTHDR(&m))
		_exit(125);
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
	return fd;
}

/* The parent's part of --image: the image cloned, idmapped through pid's user namespace. */
static int idmapped(const char *root, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns };
	if (ns < 0 || tree < 0 || syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
		die("idmap");
	close(ns);
	return tree;
}

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0 || close(fd) < 0)
		die(path);
}

/* The child's part of --image: the overlay root, cwd. */
static void image_root(int tree)
{
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0 || mkdir("/tmp/l", 0700) < 0 ||
	    mkdir("/tmp/u", 0755) < 0 || mkdir("/tmp/w", 0700) < 0 || mkdir("/tmp/u/etc", 0755) < 0 ||
	    mkdir("/tmp/m", 0700) < 0)
		die("tmpfs");
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/tmp/l", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("attach the image");
	close(tree);
	put_file("/tmp/u/etc/hostname", "floor\n");
	put_file("/tmp/u/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tfloor\n");
	put_file("/tmp/u/etc/resolv.conf", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	if (mount("overlay", "/tmp/m", "overlay", MS_NODEV, "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w,userxattr") < 0)
		die("overlay");
	if (chdir("/tmp/m") < 0)
		die("chdir");
}

static void child(const char *root, int go, int is_full, int is_image)
{
	char c;
	int tree = is_image ? recv_fd(go) : -1;
	if (!is_image && read(go, &c, 1) != 1)
		_exit(125);
	if (is_image && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) /* the caller's ids are not mapped */
		die("setresuid");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("mount /");
	if (is_image)
		image_root(tree);
	else if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(root) < 0)
		die("bind rootfs");
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

static pid_t start(const char *root, char *uidmap, char *gidmap, int is_full, int is_image)
{
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		die("socketpair");
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
		child(root, p[0], is_full, is_image);
	}
	close(p[0]);
	put(pid, "setgroups", "deny");
	put(pid, "gid_map", gidmap);
	put(pid, "uid_map", uidmap);
	if (is_image) {
		int tree = idmapped(root, pid);
		send_fd(p[1], tree);
		close(tree);
	} else if (write(p[1], "g", 1) != 1)
		die("go");
	close(p[1]);
	return pid;
}

int main(int argc, char **argv)
{
	int is_full = argc > 1 && strcmp(argv[1], "--full") == 0;
	argc -= is_full, argv += is_full;
	int is_image = argc > 1 && strcmp(argv[1], "--image") == 0;
	argc -= is_image, argv += is_image;
	if (argc < 2) {
		fprintf(stderr, "usage: floor [--full] [--image] ROOTFS [N [PARALLEL]]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 1, par = argc > 3 ? atol(argv[3]) : 1, running = 0, failed = 0;
	char uidmap[32], gidmap[32];
	snprintf(uidmap, sizeof uidmap, "0 %u %u", is_image ? RANGE : (unsigned)getuid(), is_image ? 65536u : 1u);
	snprintf(gidmap, sizeof gidmap, "0 %u %u", is_image ? RANGE : (unsigned)getgid(), is_image ? 65536u : 1u);
	for (long started = 0; started < n || running > 0;) {
		if (started < n && running < par) {
			start(argv[1], uidmap, gidmap, is_full, is_image);
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
