// followed_position: the shim follows a write-only fd's position itself (no lseek per
// write), so every way the position can move must be seen: lseek under each of glibc's
// names and as a raw syscall, O_APPEND toggled by fcntl, pwritev2 at -1 with RWF_APPEND,
// in-kernel copies, dup, a forked child writing through the shared description, stdio
// seeks. Both members are read after each move (later writes could cover a misplaced
// one before run.sh compares them): a missed move puts the secondary's bytes at the
// wrong offset.
#include "check.h"
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>

extern off_t __lseek(int fd, off_t off, int whence);

/* fdatasync first: under write-behind it waits for the secondary's queued writes. */
#define EXPECT_BOTH(fd, path, content) do { \
	CHECK_SYS(fdatasync(fd)); \
	EXPECT_FILE(path, content); \
	EXPECT_FILE(member_path("secondary", path), content); \
} while (0)

int main(void)
{
	const char *path = SHADOW "/followed";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));

	write_str(fd, "aaaaaaaa");			/* 0..8 */
	CHECK_EQ(lseek(fd, 1, SEEK_SET), 1);
	write_str(fd, "B");				/* 1; at 2 */
	EXPECT_BOTH(fd, path, "aBaaaaaa");
	CHECK_EQ(lseek64(fd, 1, SEEK_CUR), 3);
	write_str(fd, "C");				/* 3; at 4 */
	EXPECT_BOTH(fd, path, "aBaCaaaa");
	CHECK_EQ(__lseek(fd, -2, SEEK_END), 6);
	write_str(fd, "D");				/* 6; at 7 */
	EXPECT_BOTH(fd, path, "aBaCaaDa");
	CHECK_EQ(syscall(SYS_lseek, fd, 0L, SEEK_SET), 0);
	write_str(fd, "E");				/* 0; at 1 */
	EXPECT_BOTH(fd, path, "EBaCaaDa");

	/* A dup shares the position. */
	int d = CHECK_SYS(dup(fd));
	write_str(d, "F");				/* 1; at 2 */
	write_str(fd, "G");				/* 2; at 3 */
	CHECK_SYS(close(d));

	/* pwrite leaves the position where it was. */
	CHECK_EQ(pwrite(fd, "H", 1, 5), 1);
	write_str(fd, "I");				/* 3; at 4 */
	EXPECT_BOTH(fd, path, "EFGIaHDa");

	/* O_APPEND switched on and off: the append moves the position to the end. */
	CHECK_SYS(fcntl(fd, F_SETFL, O_APPEND));
	write_str(fd, "JJ");				/* 8..10 */
	CHECK_SYS(fcntl(fd, F_SETFL, 0));
	write_str(fd, "K");				/* 10; at 11 */
	EXPECT_BOTH(fd, path, "EFGIaHDaJJK");
	CHECK_SYS(fcntl(fd, F_SETFL, O_APPEND));
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);		/* while appending */
	CHECK_SYS(fcntl(fd, F_SETFL, 0));
	write_str(fd, "e");				/* 0; at 1 */
	EXPECT_BOTH(fd, path, "eFGIaHDaJJK");
	CHECK_SYS(lseek(fd, 11, SEEK_SET));
	CHECK_EQ(lseek(fd, 4, SEEK_SET), 4);
	write_str(fd, "K");				/* 4; at 5 */

	/* pwritev2 at the position, then with RWF_APPEND (position to the end). */
	struct iovec v = { .iov_base = "L", .iov_len = 1 };
	CHECK_EQ(pwritev2(fd, &v, 1, -1, 0), 1);	/* 5; at 6 */
	EXPECT_BOTH(fd, path, "eFGIKLDaJJK");
	v.iov_base = "MM";
	v.iov_len = 2;
	CHECK_EQ(pwritev2(fd, &v, 1, -1, RWF_APPEND), 2); /* 11..13; at 13 */
	write_str(fd, "N");				/* 13; at 14 */
	EXPECT_BOTH(fd, path, "eFGIKLDaJJKMMN");

	/* In-kernel copies from a plain file at the position. */
	char *src = xasprintf("%s/src", test_tmp());
	int s = CHECK_SYS(open(src, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(s, "opq");
	CHECK_EQ(lseek(fd, 2, SEEK_SET), 2);
	off_t from = 0;
	CHECK_EQ(sendfile(fd, s, &from, 2), 2);	/* "op" at 2; at 4 */
	write_str(fd, "R");				/* 4; at 5 */
	EXPECT_BOTH(fd, path, "eFopRLDaJJKMMN");
	loff_t in = 2;
	CHECK_EQ(copy_file_range(s, &in, fd, NULL, 1, 0), 1); /* "q" at 5; at 6 */
	write_str(fd, "S");				/* 6; at 7 */
	CHECK_SYS(close(s));
	EXPECT_BOTH(fd, path, "eFopRqSaJJKMMN");

	/* A forked child moves the shared position; the parent writes after it. */
	CHECK_EQ(lseek(fd, 7, SEEK_SET), 7);
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_str(fd, "tt");			/* 7..9 */
		_exit(0);
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	write_str(fd, "U");				/* 9; at 10 */
	EXPECT_BOTH(fd, path, "eFopRqSttUKMMN");
	CHECK_SYS(close(fd));

	/* stdio: the stream's seeks move the fd's position. */
	const char *spath = SHADOW "/followed_stdio";
	FILE *f = CHECK_PTR(fopen(spath, "w"));
	CHECK_EQ(fwrite("vvvvvv", 1, 6, f), 6);
	CHECK_SYS(fseek(f, 2, SEEK_SET));
	CHECK_EQ(fwrite("W", 1, 1, f), 1);
	CHECK_EQ(ftell(f), 3);
	CHECK_SYS(fflush(f));
	EXPECT_BOTH(fileno(f), spath, "vvWvvv");
	CHECK_SYS(fseeko(f, -1, SEEK_END));
	CHECK_EQ(fwrite("X", 1, 1, f), 1);
	CHECK_SYS(fflush(f));
	EXPECT_BOTH(fileno(f), spath, "vvWvvX");
	CHECK_SYS(fclose(f));
	return 0;
}
