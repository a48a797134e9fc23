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

#include <sys/mman.h>

/* write(2) by a `syscall` instruction in an anonymous executable page, as JIT code makes
 * it: (fd, buf, n) arrive in rdi, rsi, rdx, where write(2) takes them. */
static long raw_write(int fd, const void *buf, size_t n)
{
	static const unsigned char code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00, /* mov $1, %eax (SYS_write) */
		0x0f, 0x05,                   /* syscall */
		0xc3,                         /* ret */
	};
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	memcpy(page, code, sizeof code);
	CHECK_SYS(mprotect(page, 4096, PROT_READ | PROT_EXEC));
	long (*jit)(long, const void *, size_t) = (long (*)(long, const void *, size_t))page;
	long r = jit(fd, buf, n);
	CHECK_SYS(munmap(page, 4096));
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
