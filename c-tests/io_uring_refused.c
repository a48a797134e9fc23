// io_uring_refused: while a shadow set is active, io_uring_setup and io_setup (libaio)
// through syscall(2) fail with ENOSYS, so programs fall back to plain writes the shim mirrors.
#include "check.h"

#include <sys/syscall.h>

int main(void)
{
	char params[120] = { 0 };
	errno = 0;
	long r = syscall(SYS_io_uring_setup, 8, params);
	CHECK_EQ(r, -1);
	CHECK_EQ(errno, ENOSYS);
	/* libaio's io_setup too: programs fall back to plain (hooked) I/O. */
	errno = 0;
	unsigned long ctx = 0;
	CHECK_EQ(syscall(SYS_io_setup, 8, &ctx), -1);
	CHECK_EQ(errno, ENOSYS);
	/* Other syscalls still pass through. */
	CHECK_EQ(syscall(SYS_getpid), (long)getpid());
	return 0;
}
