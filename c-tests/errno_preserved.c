// errno_preserved: failing calls under /shadow set errno exactly as native.
#include "check.h"

int main(void)
{
	struct stat st;

	CHECK_ERR(open(SHADOW "/missing", O_RDONLY), ENOENT);
	CHECK_ERR(open(SHADOW "/nodir/f", O_WRONLY | O_CREAT, 0644), ENOENT);
	CHECK_ERR(stat(SHADOW "/missing", &st), ENOENT);
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_ERR(mkdir(SHADOW "/d", 0755), EEXIST);
	CHECK_ERR(unlink(SHADOW "/missing"), ENOENT);
	write_file(SHADOW "/d/f", "f\n");
	CHECK_ERR(rmdir(SHADOW "/d"), ENOTEMPTY);
	CHECK_ERR(unlink(SHADOW "/d"), EISDIR);
	CHECK_ERR(rmdir(SHADOW "/d/f"), ENOTDIR);
	CHECK_ERR(open(SHADOW "/d/f/x", O_RDONLY), ENOTDIR);
	CHECK_ERR(open(SHADOW "/d", O_WRONLY), EISDIR);
	CHECK_ERR(open(SHADOW "/d/f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK_ERR(rename(SHADOW "/missing", SHADOW "/other"), ENOENT);
	CHECK_ERR(link(SHADOW "/d/f", SHADOW "/d/f"), EEXIST);
	CHECK_ERR(symlink("x", SHADOW "/d/f"), EEXIST);
	CHECK_ERR(readlink(SHADOW "/d/f", (char[8]){0}, 8), EINVAL);
	CHECK_ERR(chdir(SHADOW "/d/f"), ENOTDIR);
	CHECK_ERR(chdir(SHADOW "/missing"), ENOENT);
	CHECK_ERR(truncate(SHADOW "/d", 0), EISDIR);

	/* Writing to a read-only fd, reading a write-only one. */
	int fd = CHECK_SYS(open(SHADOW "/d/f", O_RDONLY));
	CHECK_ERR(write(fd, "x", 1), EBADF);
	CHECK_SYS(close(fd));
	fd = CHECK_SYS(open(SHADOW "/d/f", O_WRONLY));
	CHECK_ERR(read(fd, (char[4]){0}, 4), EBADF);
	CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_SYS(close(fd));
	CHECK_ERR(close(fd), EBADF);

	/* A successful hooked call leaves errno alone. */
	errno = 12345;
	fd = CHECK_SYS(open(SHADOW "/d/f", O_RDONLY));
	CHECK_EQ(errno, 12345);
	CHECK_SYS(close(fd));
	CHECK_EQ(errno, 12345);
	CHECK_SYS(stat(SHADOW "/d/f", &st));
	CHECK_EQ(errno, 12345);
	EXPECT_FILE(SHADOW "/d/f", "f\n");
	return 0;
}
