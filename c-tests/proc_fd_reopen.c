// proc_fd_reopen: reopening a shadowed fd by /proc/self/fd/N or /dev/fd/N (as shells do
// for /dev/stdout) gives a descriptor that is mirrored too.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/f";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "original\n");

	int re = CHECK_SYS(open(xasprintf("/proc/self/fd/%d", fd), O_WRONLY | O_APPEND));
	write_str(re, "via proc\n");
	CHECK_SYS(close(re));
	re = CHECK_SYS(open(xasprintf("/dev/fd/%d", fd), O_WRONLY | O_APPEND));
	write_str(re, "via dev-fd\n");
	CHECK_SYS(close(re));
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "original\nvia proc\nvia dev-fd\n");

	/* A shell writing to /dev/stdout when stdout is a shadowed file. */
	system_ok("exec > " SHADOW "/sh.out; echo one; echo two >> /dev/stdout");
	EXPECT_FILE(SHADOW "/sh.out", "one\ntwo\n");
	return 0;
}
