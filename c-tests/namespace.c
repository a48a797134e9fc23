// namespace: mkdir/rename/renameat2/unlink/rmdir/symlink/link/chmod/chown/utimes.
#include "check.h"

#include <sys/time.h>
#include <utime.h>

/* Both members must carry the same mtime for vpath (shadowctl verify ignores times).
 * atime is not compared: reads through the shim touch the primary only. */
#define EXPECT_SAME_MTIME(vpath) do { \
	struct stat p_, s_; \
	CHECK_SYS(lstat(member_path("primary", (vpath)), &p_)); \
	CHECK_SYS(lstat(member_path("secondary", (vpath)), &s_)); \
	if (p_.st_mtim.tv_sec != s_.st_mtim.tv_sec || p_.st_mtim.tv_nsec != s_.st_mtim.tv_nsec) \
		check_fail(HERE, 0, "%s: mtime %ld.%09ld on primary, %ld.%09ld on secondary", \
			   (vpath), (long)p_.st_mtim.tv_sec, p_.st_mtim.tv_nsec, \
			   (long)s_.st_mtim.tv_sec, s_.st_mtim.tv_nsec); \
} while (0)

int main(void)
{
	umask(022);

	/* Directories, nested. */
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(mkdir(SHADOW "/d/e", 0700));
	CHECK_SYS(mkdir(SHADOW "/d/e/f", 0755));
	CHECK(S_ISDIR(xstat(SHADOW "/d/e/f").st_mode));
	CHECK_EQ(xstat(SHADOW "/d/e").st_mode & 0777, 0700);

	/* Rename a file, then a directory with contents. */
	write_file(SHADOW "/d/a", "a\n");
	CHECK_SYS(rename(SHADOW "/d/a", SHADOW "/d/e/b"));
	EXPECT_MISSING(SHADOW "/d/a");
	EXPECT_FILE(SHADOW "/d/e/b", "a\n");
	CHECK_SYS(rename(SHADOW "/d/e", SHADOW "/d/e2"));
	EXPECT_FILE(SHADOW "/d/e2/b", "a\n");
	EXPECT_MISSING(SHADOW "/d/e");

	/* renameat2: NOREPLACE refuses, EXCHANGE swaps. */
	write_file(SHADOW "/x", "x\n");
	write_file(SHADOW "/y", "y\n");
	CHECK_ERR(renameat2(AT_FDCWD, SHADOW "/x", AT_FDCWD, SHADOW "/y", RENAME_NOREPLACE), EEXIST);
	CHECK_SYS(renameat2(AT_FDCWD, SHADOW "/x", AT_FDCWD, SHADOW "/y", RENAME_EXCHANGE));
	EXPECT_FILE(SHADOW "/x", "y\n");
	EXPECT_FILE(SHADOW "/y", "x\n");
	CHECK_SYS(renameat2(AT_FDCWD, SHADOW "/x", AT_FDCWD, SHADOW "/z", RENAME_NOREPLACE));
	EXPECT_FILE(SHADOW "/z", "y\n");

	/* unlink and rmdir. */
	CHECK_SYS(unlink(SHADOW "/z"));
	EXPECT_MISSING(SHADOW "/z");
	CHECK_SYS(rmdir(SHADOW "/d/e2/f"));
	EXPECT_MISSING(SHADOW "/d/e2/f");

	/* Symlinks: relative and absolute (absolute virtual) targets, stored verbatim. */
	CHECK_SYS(symlink("y", SHADOW "/rel-link"));
	CHECK_SYS(symlink("/shadow/y", SHADOW "/abs-link"));
	char buf[256];
	ssize_t n = CHECK_SYS(readlink(SHADOW "/rel-link", buf, sizeof buf));
	CHECK_EQ(n, 1);
	CHECK(memcmp(buf, "y", 1) == 0);
	n = CHECK_SYS(readlink(SHADOW "/abs-link", buf, sizeof buf - 1));
	buf[n] = '\0';
	CHECK_STREQ(buf, "/shadow/y");
	EXPECT_FILE(SHADOW "/rel-link", "x\n");
	struct stat st;
	CHECK_SYS(lstat(SHADOW "/rel-link", &st));
	CHECK(S_ISLNK(st.st_mode));

	/* Hard link: same inode, shared content. */
	CHECK_SYS(link(SHADOW "/y", SHADOW "/hard"));
	CHECK_EQ(xstat(SHADOW "/hard").st_ino, xstat(SHADOW "/y").st_ino);
	CHECK_EQ(xstat(SHADOW "/y").st_nlink, 2);
	int fd = CHECK_SYS(open(SHADOW "/hard", O_WRONLY | O_APPEND));
	write_str(fd, "via hard\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/y", "x\nvia hard\n");

	/* chmod, fchmod. */
	CHECK_SYS(chmod(SHADOW "/y", 0640));
	CHECK_EQ(xstat(SHADOW "/y").st_mode & 07777, 0640);
	fd = CHECK_SYS(open(SHADOW "/d/a2", O_WRONLY | O_CREAT, 0644));
	CHECK_SYS(fchmod(fd, 0600));
	struct stat fst;
	CHECK_SYS(fstat(fd, &fst));
	CHECK_EQ(fst.st_mode & 07777, 0600);

	/* chown/fchown/lchown to ourselves always succeed. */
	CHECK_SYS(chown(SHADOW "/y", getuid(), getgid()));
	CHECK_SYS(fchown(fd, getuid(), getgid()));
	CHECK_SYS(lchown(SHADOW "/abs-link", getuid(), getgid()));
	CHECK_SYS(close(fd));

	/* Explicit times: utimensat, futimens, utime, utimes. */
	struct timespec ts[2] = { { 1000000000, 0 }, { 1100000000, 500 } };
	CHECK_SYS(utimensat(AT_FDCWD, SHADOW "/y", ts, 0));
	st = xstat(SHADOW "/y");
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_mtim.tv_sec, 1100000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 500);

	struct timespec lts[2] = { { 1200000000, 0 }, { 1200000000, 0 } };
	CHECK_SYS(utimensat(AT_FDCWD, SHADOW "/abs-link", lts, AT_SYMLINK_NOFOLLOW));
	CHECK_SYS(lstat(SHADOW "/abs-link", &st));
	CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
	CHECK_EQ(xstat(SHADOW "/y").st_mtim.tv_sec, 1100000000);

	fd = CHECK_SYS(open(SHADOW "/d/a2", O_RDONLY));
	struct timespec fts[2] = { { 1300000000, 0 }, { 1300000001, 0 } };
	CHECK_SYS(futimens(fd, fts));
	CHECK_SYS(close(fd));
	CHECK_EQ(xstat(SHADOW "/d/a2").st_mtim.tv_sec, 1300000001);

	write_file(SHADOW "/u", "u\n");
	struct utimbuf ub = { .actime = 1400000000, .modtime = 1400000002 };
	CHECK_SYS(utime(SHADOW "/u", &ub));
	CHECK_EQ(xstat(SHADOW "/u").st_mtim.tv_sec, 1400000002);

	struct timeval tv[2] = { { 1500000000, 0 }, { 1500000003, 0 } };
	CHECK_SYS(utimes(SHADOW "/hard", tv));
	CHECK_EQ(xstat(SHADOW "/hard").st_mtim.tv_sec, 1500000003);

	/* The explicit times reached the secondary too. */
	EXPECT_SAME_MTIME(SHADOW "/abs-link");
	EXPECT_SAME_MTIME(SHADOW "/d/a2");
	EXPECT_SAME_MTIME(SHADOW "/u");
	EXPECT_SAME_MTIME(SHADOW "/y");	/* = /hard, set last by utimes */

	return 0;
}
