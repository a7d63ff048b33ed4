/* nsbox-init, the container side's exec stub and PID 1 (csrc/init/), built
 * static and embedded here (.incbin), so nothing more is installed. It is
 * exec'd from a memfd sealed against every write: the one copy a process loads
 * is what /proc/self/exe of a container's init or exec stub is, and nothing
 * inside can change it, whatever the command (CVE-2019-5736). */
#include "common.h"
#include "stub.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NSBOX_INIT_BIN
#error "NSBOX_INIT_BIN: the path of the built nsbox-init (the Makefile sets it)"
#endif

__asm__(".section .rodata\n"
	".balign 16\n"
	".hidden nsbox_init_bin\n.globl nsbox_init_bin\nnsbox_init_bin:\n"
	".incbin \"" NSBOX_INIT_BIN "\"\n"
	".hidden nsbox_init_end\n.globl nsbox_init_end\nnsbox_init_end:\n"
	".previous\n");
extern const char nsbox_init_bin[], nsbox_init_end[];

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

static int make_stub(void)
{
	/* MFD_EXEC: asked for explicitly where vm.memfd_noexec would refuse it (Linux 6.3+) */
	int fd = memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	const char *p = nsbox_init_bin;
	while (p < nsbox_init_end) {
		ssize_t n = write(fd, p, (size_t)(nsbox_init_end - p));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
	}
	/* read and exec only; then sealed: no write, no size change, no chmod
	 * (F_SEAL_EXEC, where the kernel knows it), no seal removed */
	if (fchmod(fd, 0555) < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC) < 0 && errno != EINVAL)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno ? errno : EIO;
	close(fd);
	errno = e;
	return -1;
}

int nsbox_stub_fd(void)
{
	static int fd = -1;
	static pid_t owner;
	/* a forked copy of this process may have closed or reused the number */
	if (fd < 0 || owner != getpid()) {
		fd = make_stub();
		owner = getpid();
	}
	return fd;
}
