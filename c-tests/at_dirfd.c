// at_dirfd: *at() calls relative to a directory fd opened on /shadow/dir.
#include "check.h"

int main(void)
{
	umask(022);
	CHECK_SYS(mkdir(SHADOW "/dir", 0755));
	int dfd = CHECK_SYS(open(SHADOW "/dir", O_RDONLY | O_DIRECTORY));

	int fd = CHECK_SYS(openat(dfd, "f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "openat\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/dir/f", "openat\n");

	CHECK_SYS(mkdirat(dfd, "sub", 0755));
	fd = CHECK_SYS(openat(dfd, "sub/g", O_WRONLY | O_CREAT | O_EXCL, 0644));
	write_str(fd, "nested\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/dir/sub/g", "nested\n");

	/* An absolute path ignores dirfd. */
	fd = CHECK_SYS(openat(dfd, SHADOW "/abs", O_WRONLY | O_CREAT, 0644));
	write_str(fd, "abs\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/abs", "abs\n");

	CHECK_SYS(renameat(dfd, "f", dfd, "sub/f2"));
	EXPECT_FILE(SHADOW "/dir/sub/f2", "openat\n");
	CHECK_SYS(fchmodat(dfd, "sub/f2", 0600, 0));
	struct stat st;
	CHECK_SYS(fstatat(dfd, "sub/f2", &st, 0));
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(st.st_size, 7);

	CHECK_SYS(symlinkat("sub/f2", dfd, "ln"));
	CHECK_SYS(fstatat(dfd, "ln", &st, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISLNK(st.st_mode));
	char buf[64];
	ssize_t n = CHECK_SYS(readlinkat(dfd, "ln", buf, sizeof buf - 1));
	buf[n] = '\0';
	CHECK_STREQ(buf, "sub/f2");
	CHECK_SYS(linkat(dfd, "sub/f2", dfd, "hard", 0));
	EXPECT_FILE(SHADOW "/dir/hard", "openat\n");
	CHECK_SYS(faccessat(dfd, "hard", R_OK | W_OK, 0));

	/* A dirfd for a subdirectory, and "." / ".." relative to it. */
	int sfd = CHECK_SYS(openat(dfd, "sub", O_RDONLY | O_DIRECTORY));
	fd = CHECK_SYS(openat(sfd, "../via-dotdot", O_WRONLY | O_CREAT, 0644));
	write_str(fd, "dotdot\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/dir/via-dotdot", "dotdot\n");
	CHECK_SYS(fstatat(sfd, ".", &st, 0));
	CHECK(S_ISDIR(st.st_mode));

	CHECK_SYS(unlinkat(dfd, "ln", 0));
	CHECK_SYS(unlinkat(sfd, "g", 0));
	CHECK_ERR(unlinkat(dfd, "sub", 0), EISDIR);
	CHECK_ERR(unlinkat(dfd, "sub", AT_REMOVEDIR), ENOTEMPTY);
	CHECK_SYS(unlinkat(sfd, "f2", 0));
	CHECK_SYS(unlinkat(dfd, "sub", AT_REMOVEDIR));
	EXPECT_MISSING(SHADOW "/dir/sub");

	/* fchdir to the shadowed dir makes relative paths land there. */
	CHECK_SYS(fchdir(dfd));
	write_file("rel-after-fchdir", "fchdir\n");
	EXPECT_FILE(SHADOW "/dir/rel-after-fchdir", "fchdir\n");

	CHECK_SYS(close(sfd));
	CHECK_SYS(close(dfd));
	return 0;
}
