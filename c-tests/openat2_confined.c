// openat2_confined: openat2 with RESOLVE_IN_ROOT from a directory under the prefix keeps
// the walk in that directory on both members — an absolute symlink, an absolute path and
// `..` all stay inside it — and RESOLVE_BENEATH refuses what would leave it (EXDEV), as
// natively. Before, the follower's open was made without the resolve flags and followed
// an absolute symlink out to the host's file; an absolute path or `../..` was taken as
// the host's and reached the primary alone. O_CREAT of a file that is there opens the
// follower's without O_CREAT, and without a mode (openat2 refuses one: EINVAL, 00020).
#include "check.h"

#include <linux/openat2.h>
#include <sys/syscall.h>

static int open2(int dirfd, const char *path, unsigned long long resolve)
{
	struct open_how how = { .flags = O_WRONLY | O_CREAT, .mode = 0644, .resolve = resolve };
	return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static void mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				check_fail(HERE, errno, "mkdir %s", path);
			*p = '/';
		}
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		check_fail(HERE, errno, "mkdir %s", path);
}

static void create(int dirfd, const char *path)
{
	int fd = open2(dirfd, path, RESOLVE_IN_ROOT);
	if (fd < 0)
		check_fail(HERE, errno, "openat2(root, %s, RESOLVE_IN_ROOT)", path);
	write_str(fd, "x");
	CHECK_SYS(close(fd));
}

int main(void)
{
	/* The host has <tmp>/leak; the root has the same path inside it. */
	char *host = xasprintf("%s/leak", test_tmp());
	CHECK_SYS(mkdir(host, 0755));
	mkdir_p(xasprintf(SHADOW "/root%s", host));
	CHECK_SYS(symlink(host, SHADOW "/root/abs"));
	int root = CHECK_SYS(open(SHADOW "/root", O_RDONLY | O_DIRECTORY));

	create(root, "abs/via-symlink");
	create(root, xasprintf("%s/absolute", host));
	create(root, "../../up");
	EXPECT_MISSING(xasprintf("%s/via-symlink", host));
	EXPECT_MISSING(xasprintf("%s/absolute", host));
	const char *inside[] = { "%s/via-symlink", "%s/absolute" };
	for (int i = 0; i < 2; i++) {
		char *rel = xasprintf(inside[i], host);
		EXPECT_FILE(member_path("primary", xasprintf(SHADOW "/root%s", rel)), "x");
		EXPECT_FILE(member_path("secondary", xasprintf(SHADOW "/root%s", rel)), "x");
	}
	EXPECT_FILE(member_path("secondary", SHADOW "/root/up"), "x");

	CHECK_ERR(open2(root, "../beneath", RESOLVE_BENEATH), EXDEV);
	CHECK_ERR(open2(root, "/beneath", RESOLVE_BENEATH), EXDEV);
	int fd = CHECK_SYS(open2(root, "beneath", RESOLVE_BENEATH));
	CHECK_SYS(close(fd));
	EXPECT_FILE(member_path("secondary", SHADOW "/root/beneath"), "");

	/* O_CREAT of a file that is there: the follower's open, made without O_CREAT, must
	 * not pass openat2 the mode (EINVAL; the file was reported insecure, the write
	 * reached the primary alone). */
	fd = CHECK_SYS(open2(root, "up", RESOLVE_IN_ROOT));
	write_str(fd, "y");
	CHECK_SYS(close(fd));
	EXPECT_FILE(member_path("secondary", SHADOW "/root/up"), "y");
	CHECK_SYS(close(root));
	return 0;
}
