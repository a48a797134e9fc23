// truncate: truncate, ftruncate (grow/shrink), fallocate incl. KEEP_SIZE and PUNCH_HOLE.
#include "check.h"

#include <linux/falloc.h>

int main(void)
{
	const char *path = SHADOW "/t";
	char want[8192];

	write_file(path, "0123456789");
	CHECK_SYS(truncate(path, 4));
	EXPECT_FILE(path, "0123");
	CHECK_SYS(truncate(path, 8));
	EXPECT_FILE_BYTES(path, "0123\0\0\0\0", 8);

	int fd = CHECK_SYS(open(path, O_RDWR));
	CHECK_SYS(ftruncate(fd, 2));
	CHECK_EQ(file_size(path), 2);
	CHECK_SYS(ftruncate(fd, 6000));
	CHECK_EQ(file_size(path), 6000);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);

	/* fallocate that extends the size. */
	CHECK_SYS(fallocate(fd, 0, 0, 8192));
	CHECK_EQ(file_size(path), 8192);

	/* KEEP_SIZE preallocates beyond EOF without changing the size. */
	CHECK_SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 65536));
	CHECK_EQ(file_size(path), 8192);

	/* Fill with data, then punch a hole in the middle. */
	memset(want, 'x', sizeof want);
	CHECK_EQ(pwrite(fd, want, sizeof want, 0), (ssize_t)sizeof want);
	CHECK_SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 2048));
	memset(want + 4096, 0, 2048);
	CHECK_EQ(file_size(path), 8192);
	CHECK_EQ(posix_fallocate(fd, 0, 9000), 0);
	CHECK_EQ(file_size(path), 9000);
	CHECK_SYS(ftruncate(fd, 8192));
	CHECK_SYS(close(fd));
	EXPECT_FILE_BYTES(path, want, sizeof want);

	/* truncate on a read-only fd fails as natively. */
	fd = CHECK_SYS(open(path, O_RDONLY));
	CHECK_ERR(ftruncate(fd, 0), EINVAL);
	CHECK_SYS(close(fd));
	CHECK_ERR(truncate(SHADOW "/missing", 0), ENOENT);
	return 0;
}
