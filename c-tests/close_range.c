// close_range: close a span of shadowed fds; the others keep writing.
#include "check.h"

#include <linux/close_range.h>

int main(void)
{
	int fds[6];
	char *paths[6];

	/* Put the fds at known numbers, 100..105. */
	for (int i = 0; i < 6; i++) {
		paths[i] = xasprintf(SHADOW "/cr%d", i);
		int fd = CHECK_SYS(open(paths[i], O_WRONLY | O_CREAT | O_TRUNC, 0644));
		fds[i] = CHECK_SYS(dup2(fd, 100 + i));
		CHECK_SYS(close(fd));
		write_str(fds[i], "before\n");
	}
	CHECK_SYS(close_range(102, 103, 0));
	EXPECT_EBADF(102);
	EXPECT_EBADF(103);
	CHECK_ERR(write(102, "x", 1), EBADF);

	/* CLOSE_RANGE_CLOEXEC only marks them. */
	CHECK_SYS(close_range(104, 104, CLOSE_RANGE_CLOEXEC));
	CHECK_EQ(fcntl(104, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	for (int i = 0; i < 6; i++) {
		if (i == 2 || i == 3)
			continue;
		write_str(fds[i], "after\n");
	}
	/* A fresh open may reuse a closed number and must be a new file. */
	int again = CHECK_SYS(open(SHADOW "/cr-new", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(dup2(again, 102), 102);
	CHECK_SYS(close(again));
	write_str(102, "new\n");
	CHECK_SYS(close(102));

	/* Close everything from 104 up, including the unbounded form. */
	CHECK_SYS(close_range(104, ~0U, 0));
	EXPECT_EBADF(104);
	EXPECT_EBADF(105);
	write_str(100, "end\n");
	CHECK_SYS(close(100));
	CHECK_SYS(close(101));

	EXPECT_FILE(paths[0], "before\nafter\nend\n");
	EXPECT_FILE(paths[1], "before\nafter\n");
	EXPECT_FILE(paths[2], "before\n");
	EXPECT_FILE(paths[3], "before\n");
	EXPECT_FILE(paths[4], "before\nafter\n");
	EXPECT_FILE(paths[5], "before\nafter\n");
	EXPECT_FILE(SHADOW "/cr-new", "new\n");
	return 0;
}
