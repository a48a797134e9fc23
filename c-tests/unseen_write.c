// unseen_write: a write the shim cannot see (a raw `syscall` instruction, as Go programs
// and static binaries make) on a write-only fd whose position the shim follows: the
// follower cannot have it, and at the last close the followed position disagrees with the
// kernel's, so the file is reported insecure and left to `recover`, never silently
// different.
// expect-verify: differ
// expect-history: writes the shim did not see moved the file position
// expect-recover: needed
#include "check.h"

static long raw_write(int fd, const void *buf, size_t n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return r;
}

int main(void)
{
	const char *path = SHADOW "/unseen";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaa");
	CHECK_EQ(raw_write(fd, "bbb", 3), 3);
	write_str(fd, "ccc");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "aaabbbccc");
	return 0;
}
