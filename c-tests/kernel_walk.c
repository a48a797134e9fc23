// kernel_walk: `.`, `..` and symlinks under the prefix resolve as the kernel resolves them,
// on each member: rmdir("a/b/.") is EINVAL, rename("a/b/..") is refused, and a path through
// a symlink followed by `..` lands where the symlink's target is, not where the letters say.
#include "check.h"

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/a", 0755));
	CHECK_SYS(mkdir(SHADOW "/a/b", 0755));
	CHECK_SYS(chdir(SHADOW));

	CHECK_ERR(rmdir("a/b/."), EINVAL);
	CHECK_ERR(rmdir(SHADOW "/a/b/."), EINVAL);
	errno = 0;
	CHECK(rename("a/b/..", "x") == -1 && (errno == EINVAL || errno == EBUSY));
	CHECK(rename("a/b/.", "x") == -1 && (errno == EINVAL || errno == EBUSY));
	errno = 0;
	CHECK(rmdir("a/b/..") == -1 && (errno == ENOTEMPTY || errno == EEXIST));
	CHECK(S_ISDIR(xstat(SHADOW "/a/b").st_mode));

	/* lnk -> sub/deeper: lnk/../f is sub/f. */
	CHECK_SYS(mkdir("sub", 0755));
	CHECK_SYS(mkdir("sub/deeper", 0755));
	CHECK_SYS(symlink("sub/deeper", "lnk"));
	write_file("lnk/../f", "through the link\n");
	EXPECT_FILE(SHADOW "/sub/f", "through the link\n");
	EXPECT_MISSING(SHADOW "/f");
	write_file(SHADOW "/lnk/../g", "absolute through the link\n");
	EXPECT_FILE(SHADOW "/sub/g", "absolute through the link\n");
	CHECK_SYS(mkdir("lnk/../made", 0755));
	CHECK(S_ISDIR(xstat(SHADOW "/sub/made").st_mode));
	CHECK_SYS(rename("lnk/../g", "lnk/../h"));
	EXPECT_FILE(SHADOW "/sub/h", "absolute through the link\n");

	/* From a directory fd, and from a cwd deeper down. */
	int d = CHECK_SYS(open("a", O_RDONLY | O_DIRECTORY));
	int fd = CHECK_SYS(openat(d, "b/../c", O_WRONLY | O_CREAT, 0644));
	write_str(fd, "c\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/a/c", "c\n");
	CHECK_SYS(unlinkat(d, "./c", 0));
	CHECK_ERR(unlinkat(d, "b/.", AT_REMOVEDIR), EINVAL);
	CHECK_SYS(close(d));
	CHECK_SYS(chdir("a/b"));
	write_file("../../sub/deeper/../up", "up\n");
	EXPECT_FILE(SHADOW "/sub/up", "up\n");

	/* `..` out of the prefix leaves it: /shadow/.. is /. */
	CHECK_SYS(chdir(SHADOW));
	struct stat root = xstat("/"), up = xstat("..");
	CHECK_EQ(root.st_ino, up.st_ino);
	CHECK_EQ(root.st_dev, up.st_dev);
	return 0;
}
