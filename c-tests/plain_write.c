// plain_write: create with O_CREAT|O_TRUNC, write in several chunks, read back.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/plain.txt";
	int fd;

	umask(022);

	fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "alpha ");
	write_str(fd, "beta ");
	write_str(fd, "gamma\n");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 17);
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "alpha beta gamma\n");

	/* O_TRUNC on an existing file empties it before the new data. */
	fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600));
	CHECK_EQ(file_size(path), 0);
	write_str(fd, "short\n");
	char buf[16] = {0};
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 6);
	CHECK_STREQ(buf, "short\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "short\n");

	/* The mode passed to open (variadic argument) is applied on creation. */
	const char *p2 = SHADOW "/mode0600";
	fd = CHECK_SYS(open(p2, O_WRONLY | O_CREAT | O_EXCL, 0600));
	CHECK_SYS(close(fd));
	CHECK_EQ(xstat(p2).st_mode & 0777, 0600 & ~0022);
	CHECK_ERR(open(p2, O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);

	/* creat() and open64-style large-file flags take the same path. */
	fd = CHECK_SYS(creat(SHADOW "/creat.txt", 0644));
	write_str(fd, "creat\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/creat.txt", "creat\n");
	return 0;
}
