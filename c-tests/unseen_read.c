// unseen_read: a read the shim cannot see (a raw `syscall` instruction) on a readable and
// writable fd, whose position the shim follows while the process has one thread (so
// synchronous mirroring here: write-behind's thread makes the process threaded, and then
// the kernel is asked after every write). The next write lands past the read on the
// primary and at the followed position on the secondary: reported at the last close, or
// at the next lseek when one comes first (after which the close would find the position
// agreeing again). See unseen_write.c for writes.
// config: write_behind = false
// expect-verify: differ
// expect-history: unseen_read\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_seek\]\[reads or writes the shim did not see moved the file position
// expect-recover: needed
#include "check.h"
#include <sys/syscall.h>

static long raw_read(int fd, void *buf, size_t n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return r;
}

int main(void)
{
	const char *path = SHADOW "/unseen_read";
	char buf[3];
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaabbb");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(raw_read(fd, buf, 3), 3);
	write_str(fd, "ccc");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "aaaccc");

	const char *spath = SHADOW "/unseen_seek";
	fd = CHECK_SYS(open(spath, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaabbb");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(raw_read(fd, buf, 3), 3);
	write_str(fd, "ccc");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	write_str(fd, "ddd");
	CHECK_EQ(lseek(fd, 0, SEEK_END), 6);
	CHECK_SYS(close(fd));
	EXPECT_FILE(spath, "dddccc");
	return 0;
}
