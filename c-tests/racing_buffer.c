// racing_buffer: a write whose buffer another process changes while it is made (shared
// memory, as PostgreSQL's backends insert WAL records into the page its WAL writer is
// writing) reaches both members as the same bytes: the shim reads the program's buffer
// once. Before, it was read once for each member, the members got different bytes, and the
// write counted as made on both (after a crash, a WAL page differed with no intent left to
// say so). pwrite, write, writev, and a write past the size the shim copies by the kernel.
// timeout: 120
#include "check.h"

#include <sys/mman.h>
#include <sys/uio.h>

static void race(const char *path, size_t len, int rounds, int how)
{
	unsigned char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED && stop != MAP_FAILED);
	memset(buf, 'H', len);
	pid_t filler = CHECK_SYS(fork());
	if (filler == 0) {
		unsigned char v = 1;
		while (!*stop)
			memset(buf + len / 2, v++, len / 2);
		_exit(0);
	}
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT, 0644));
	for (int i = 0; i < rounds; i++) {
		struct iovec two[2] = {{buf, len / 3}, {buf + len / 3, len - len / 3}};
		ssize_t n = how == 0 ? pwrite(fd, buf, len, 0) : how == 1 ? (lseek(fd, 0, SEEK_SET), write(fd, buf, len)) : pwritev(fd, two, 2, 0);
		CHECK_EQ(n, (ssize_t)len);
	}
	*stop = 1;
	wait_ok(filler);
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(path);
}

int main(void)
{
	race(SHADOW "/page", 8192, 3000, 0);
	race(SHADOW "/written", 8192, 3000, 1);
	race(SHADOW "/gathered", 8192, 3000, 2);
	race(SHADOW "/large", 256 << 10, 300, 0);
	return 0;
}
