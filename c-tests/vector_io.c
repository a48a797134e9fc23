// vector_io: writev, pwrite, pwritev, pwritev2 (incl. RWF_APPEND, and RWF_NOAPPEND on an
// appending fd) on a shadowed fd.
#include "check.h"

#include <sys/uio.h>

int main(void)
{
	const char *path = SHADOW "/vec";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));

	struct iovec iov[3] = {
		{ .iov_base = "one ", .iov_len = 4 },
		{ .iov_base = "two ", .iov_len = 4 },
		{ .iov_base = "three\n", .iov_len = 6 },
	};
	CHECK_EQ(writev(fd, iov, 3), 14);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 14);

	/* Positional writes leave the offset alone. */
	CHECK_EQ(pwrite(fd, "ONE", 3, 0), 3);
	struct iovec piov[2] = {
		{ .iov_base = "T", .iov_len = 1 },
		{ .iov_base = "WO", .iov_len = 2 },
	};
	CHECK_EQ(pwritev(fd, piov, 2, 4), 3);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 14);

	/* pwritev2 with offset -1 uses and advances the file offset. */
	struct iovec tail = { .iov_base = "four\n", .iov_len = 5 };
	CHECK_EQ(pwritev2(fd, &tail, 1, -1, 0), 5);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 19);

	/* RWF_APPEND appends whatever offset is given. */
	struct iovec app = { .iov_base = "five\n", .iov_len = 5 };
	CHECK_EQ(pwritev2(fd, &app, 1, 0, RWF_APPEND), 5);

	/* readv reads the primary's data back. */
	char a[4], b[20];
	struct iovec riov[2] = { { a, sizeof a }, { b, sizeof b } };
	CHECK_EQ(preadv(fd, riov, 2, 0), 24);
	CHECK(memcmp(a, "ONE ", 4) == 0);
	CHECK(memcmp(b, "TWO three\nfour\nfive\n", 20) == 0);
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "ONE TWO three\nfour\nfive\n");

	/* RWF_NOAPPEND (Linux 6.9) writes an appending fd at the offset given, or at the
	 * position at -1; with RWF_APPEND as well it is refused. */
	fd = CHECK_SYS(open(path, O_WRONLY | O_APPEND));
	struct iovec at = { .iov_base = "1", .iov_len = 1 };
	errno = 0;
	ssize_t r = pwritev2(fd, &at, 1, 1, RWF_NOAPPEND);
	if (r < 0 && errno == EOPNOTSUPP) {
		printf("kernel without RWF_NOAPPEND: that part not run\n");
	} else {
		CHECK_EQ(r, 1);
		CHECK_ERR(pwritev2(fd, &at, 1, 2, RWF_NOAPPEND | RWF_APPEND), EINVAL);
		struct iovec dsync = { .iov_base = "2", .iov_len = 1 };
		CHECK_EQ(pwritev2(fd, &dsync, 1, 2, RWF_NOAPPEND | RWF_DSYNC), 1);
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
		struct iovec pos = { .iov_base = "3", .iov_len = 1 };
		CHECK_EQ(pwritev2(fd, &pos, 1, -1, RWF_NOAPPEND), 1);
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), 1);
		CHECK_EQ(write(fd, "6\n", 2), 2);
		CHECK_SYS(close(fd));
		EXPECT_FILE(path, "312 TWO three\nfour\nfive\n6\n");
	}
	return 0;
}
