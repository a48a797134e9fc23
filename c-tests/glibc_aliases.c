// glibc_aliases: glibc still exports older public names of the calls the shim hooks
// (__write, __pwrite64, __open, __open64, __close, __dup2, __fcntl, _IO_fopen,
// _IO_fdopen); a program that calls them must be mirrored as through the usual names, and
// reads by __read or syscall(SYS_read) must not misplace the next write. Before, __write
// reached the primary alone, unreported, and __open of a path under the prefix failed.
#include "check.h"
#include <sys/syscall.h>

extern ssize_t __write(int fd, const void *buf, size_t n);
extern ssize_t __pwrite64(int fd, const void *buf, size_t n, off_t off);
extern ssize_t __read(int fd, void *buf, size_t n);
extern int __open(const char *path, int flags, ...);
extern int __open64(const char *path, int flags, ...);
extern int __close(int fd);
extern int __dup2(int fd, int newfd);
extern int __fcntl(int fd, int cmd, ...);
extern FILE *_IO_fopen(const char *path, const char *mode);
extern FILE *_IO_fdopen(int fd, const char *mode);

int main(void)
{
	char buf[8];
	const char *a = SHADOW "/a";
	int fd = CHECK_SYS(__open(a, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(__write(fd, "abcdef", 6), 6);
	CHECK_EQ(__pwrite64(fd, "B", 1, 1), 1);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(__read(fd, buf, 2), 2);		/* at 2 */
	CHECK_EQ(__write(fd, "C", 1), 1);		/* 2; at 3 */
	CHECK_EQ(syscall(SYS_read, fd, buf, 1), 1);	/* at 4 */
	CHECK_EQ(write(fd, "E", 1), 1);			/* 4; at 5 */
	CHECK_SYS(__fcntl(fd, F_SETFL, O_APPEND));
	CHECK_EQ(write(fd, "g", 1), 1);			/* appended */
	int d = CHECK_SYS(__dup2(fd, 20));
	CHECK_EQ(d, 20);
	CHECK_EQ(__write(d, "h", 1), 1);
	CHECK_SYS(__close(d));
	CHECK_SYS(__close(fd));
	EXPECT_FILE(a, "aBCdEfgh");
	EXPECT_FILE(member_path("secondary", a), "aBCdEfgh");

	const char *b = SHADOW "/b";
	fd = CHECK_SYS(__open64(b, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	CHECK_EQ(__write(fd, "x", 1), 1);
	CHECK_SYS(close(fd));
	EXPECT_FILE(member_path("secondary", b), "x");

	FILE *f = CHECK_PTR(_IO_fopen(SHADOW "/c", "w+"));
	CHECK(fputs("first\n", f) >= 0);
	CHECK_SYS(fclose(f));
	f = CHECK_PTR(_IO_fdopen(CHECK_SYS(open(SHADOW "/c", O_RDWR)), "r+"));
	CHECK(fgets(buf, sizeof buf, f) != NULL);
	CHECK_SYS(fseek(f, 0, SEEK_CUR));
	CHECK(fputs("second\n", f) >= 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(member_path("secondary", SHADOW "/c"), "first\nsecond\n");
	return 0;
}
