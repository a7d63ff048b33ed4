/* The floor: the least work that gives what an nsbox container gives by default
 * for /bin/true: clone3 into new user, mount, uts, ipc, pid, net and cgroup
 * namespaces, id maps written by the parent, /proc mounted, pivot_root into the
 * rootfs with the old root detached, a hostname, exec. No Lua, no /dev, no masks.
 *   floor ROOTFS [N [PARALLEL]]   runs N containers (default 1), PARALLEL at a time. */
#define _GNU_SOURCE
#include <fcntl.h>
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

static void child(const char *root, int go)
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
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		die("umount old root");
	if (chdir("/") < 0 || sethostname("floor", 5) < 0)
		die("sethostname");
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };
	execve(argv[0], argv, envp);
	die("execve");
}

static pid_t start(const char *root, char *uidmap, char *gidmap)
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
		child(root, p[0]);
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
	if (argc < 2) {
		fprintf(stderr, "usage: floor ROOTFS [N [PARALLEL]]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 1, par = argc > 3 ? atol(argv[3]) : 1, running = 0, failed = 0;
	char uidmap[32], gidmap[32];
	snprintf(uidmap, sizeof uidmap, "0 %u 1", (unsigned)getuid());
	snprintf(gidmap, sizeof gidmap, "0 %u 1", (unsigned)getgid());
	for (long started = 0; started < n || running > 0;) {
		if (started < n && running < par) {
			start(argv[1], uidmap, gidmap);
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
