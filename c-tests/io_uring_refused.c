// io_uring_refused: while a shadow set is active, io_uring_setup and io_setup (libaio)
// through syscall(2) fail with ENOSYS, so programs fall back to plain writes the shim mirrors.
#include "check.h"

#include <dlfcn.h>
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
	/* liburing's own set-up functions (a program linking liburing dynamically gets the
	 * shim's): -ENOSYS, liburing's convention. */
	int (*queue_init)(unsigned, void *, unsigned) = (int (*)(unsigned, void *, unsigned))dlsym(RTLD_DEFAULT, "io_uring_queue_init");
	CHECK(queue_init != NULL);
	char ring[512] = { 0 };
	CHECK_EQ(queue_init(8, ring, 0), -ENOSYS);
	/* Other syscalls still pass through. */
	CHECK_EQ(syscall(SYS_getpid), (long)getpid());
	return 0;
}
