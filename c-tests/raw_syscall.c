// raw_syscall: syscall(2) with SYS_openat/SYS_write/SYS_close on /shadow is mirrored.
#include "check.h"

#include <sys/syscall.h>

int main(void)
{
	long fd = syscall(SYS_openat, AT_FDCWD, SHADOW "/raw", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(syscall(SYS_write, fd, "raw write\n", 10), 10);
	CHECK_EQ(syscall(SYS_pwrite64, fd, "RAW", 3, 0), 3);
	CHECK_EQ(syscall(SYS_close, fd), 0);
	EXPECT_FILE(SHADOW "/raw", "RAW write\n");

	CHECK_EQ(syscall(SYS_mkdirat, AT_FDCWD, SHADOW "/rawdir", 0755), 0);
	CHECK(S_ISDIR(xstat(SHADOW "/rawdir").st_mode));
	CHECK_EQ(syscall(SYS_unlinkat, AT_FDCWD, SHADOW "/raw", 0), 0);
	EXPECT_MISSING(SHADOW "/raw");

	/* Errors come back as -1/errno, as from the libc wrapper. */
	errno = 0;
	CHECK_EQ(syscall(SYS_openat, AT_FDCWD, SHADOW "/missing", O_RDONLY), -1);
	CHECK_EQ(errno, ENOENT);
	return 0;
}
