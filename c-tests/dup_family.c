// dup_family: dup, dup2, dup3(O_CLOEXEC), F_DUPFD, F_DUPFD_CLOEXEC share one open file.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/dup.txt";
	int fd, d1, d2, d3, d4, d5;

	fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	d1 = CHECK_SYS(dup(fd));
	d2 = CHECK_SYS(dup2(fd, 40));
	CHECK_EQ(d2, 40);
	d3 = CHECK_SYS(dup3(fd, 41, O_CLOEXEC));
	CHECK_EQ(d3, 41);
	d4 = CHECK_SYS(fcntl(fd, F_DUPFD, 50));
	CHECK(d4 >= 50);
	d5 = CHECK_SYS(fcntl(fd, F_DUPFD_CLOEXEC, 60));
	CHECK(d5 >= 60);

	/* close-on-exec is per descriptor, not per open file. */
	CHECK_EQ(fcntl(d1, F_GETFD) & FD_CLOEXEC, 0);
	CHECK_EQ(fcntl(d2, F_GETFD) & FD_CLOEXEC, 0);
	CHECK_EQ(fcntl(d3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ(fcntl(d4, F_GETFD) & FD_CLOEXEC, 0);
	CHECK_EQ(fcntl(d5, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_ERR(dup3(fd, fd, 0), EINVAL);
	CHECK_EQ(dup2(fd, fd), fd);

	/* All links share one offset. */
	write_str(fd, "fd\n");
	write_str(d1, "d1\n");
	write_str(d2, "d2\n");
	write_str(d3, "d3\n");
	write_str(d4, "d4\n");
	write_str(d5, "d5\n");
	CHECK_EQ(lseek(d3, 0, SEEK_CUR), 18);

	/* Closing the original (and some dups) leaves the others working. */
	CHECK_SYS(close(fd));
	CHECK_SYS(close(d2));
	EXPECT_EBADF(fd);
	write_str(d1, "after-close\n");
	write_str(d5, "still\n");

	/* dup2 over an existing shadowed fd of another file closes that file first. */
	const char *other = SHADOW "/other.txt";
	int o = CHECK_SYS(open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(o, "other-before\n");
	CHECK_EQ(dup2(d1, o), o);
	write_str(o, "via-o\n");	/* goes to dup.txt now */

	/* dup2 of a shadowed fd over a non-shadowed one. */
	char *scratch = xasprintf("%s/plain", test_tmp());
	int n = CHECK_SYS(open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(dup2(d4, n), n);
	write_str(n, "via-n\n");
	CHECK_SYS(close(n));
	EXPECT_FILE(scratch, "");

	/* And a non-shadowed fd over a shadowed one: writes leave the shadow. */
	int m = CHECK_SYS(open(scratch, O_WRONLY | O_APPEND));
	CHECK_EQ(dup2(m, d4), d4);
	write_str(d4, "scratch\n");
	CHECK_SYS(close(m));
	CHECK_SYS(close(d4));
	EXPECT_FILE(scratch, "scratch\n");

	CHECK_SYS(close(o));
	CHECK_SYS(close(d1));
	CHECK_SYS(close(d3));
	write_str(d5, "last\n");
	CHECK_SYS(close(d5));
	EXPECT_FILE(path, "fd\nd1\nd2\nd3\nd4\nd5\nafter-close\nstill\nvia-o\nvia-n\nlast\n");
	EXPECT_FILE(other, "other-before\n");
	return 0;
}
