// unlink_while_open: keep writing after unlink; the file is gone from both members.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/doomed";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));

	write_str(fd, "before\n");
	CHECK_SYS(unlink(path));
	EXPECT_MISSING(path);
	write_str(fd, "after\n");
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(st.st_size, 13);
	char buf[16] = {0};
	CHECK_EQ(pread(fd, buf, sizeof buf, 0), 13);
	CHECK_STREQ(buf, "before\nafter\n");

	/* A new file with the same name is a different file. */
	write_file(path, "new\n");
	write_str(fd, "old\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "new\n");
	CHECK_SYS(unlink(path));
	EXPECT_MISSING(path);

	/* Same with a dup kept open after closing the original. */
	fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT, 0644));
	int d = CHECK_SYS(dup(fd));
	CHECK_SYS(unlink(path));
	CHECK_SYS(close(fd));
	write_str(d, "through dup\n");
	CHECK_SYS(close(d));
	EXPECT_MISSING(path);
	return 0;
}
