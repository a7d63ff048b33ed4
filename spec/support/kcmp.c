/* May this process inspect process PID? kcmp(2) asks the kernel's ptrace
 * "read" check with the real credentials. Every capability stays permitted,
 * CAP_SYS_PTRACE leaves the effective set: the check then refuses a process
 * that is as privileged as we are only if it is non-dumpable (a
 * capability-less observer is refused by a root target anyway). Prints
 * "allowed" or the error. Usage: kcmp PID */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kcmp PID\n");
		return 2;
	}
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0 || (d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32)),
						  syscall(SYS_capset, &h, d) < 0)) {
		perror("capset");
		return 2;
	}
	if (syscall(SYS_kcmp, getpid(), atoi(argv[1]), KCMP_VM, 0, 0) < 0) {
		printf("%s\n", strerror(errno));
		return 1;
	}
	printf("allowed\n");
	return 0;
}
