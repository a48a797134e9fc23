// unseen_write: a write the shim cannot see (a raw `syscall` instruction outside the
// executable's code and the C library: a JIT's, or one the kernel's syscall dispatch does
// not cover) on a write-only fd whose position the shim follows: the follower cannot have
// it, and at the last close the followed position disagrees with the kernel's, so the file
// is reported insecure and left to `recover`, never silently different. (The executable's
// own `syscall` instructions trap into the shim where the kernel has Linux 6.17's
// inclusive syscall dispatch: raw_system_calls.c.)
// expect-verify: differ
// expect-history: writes the shim did not see moved the file position
// expect-recover: needed
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/unseen";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaa");
	CHECK_EQ(unseen_write(fd, "bbb", 3), 3);
	write_str(fd, "ccc");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "aaabbbccc");
	return 0;
}
