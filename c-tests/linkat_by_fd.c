// linkat_by_fd: a new name for the file a read-only or O_PATH fd is open on —
// linkat(fd, "", AT_EMPTY_PATH) and linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW —
// reaches both members: such an fd has no follower fd, so the follower's file is linked by
// the name it was opened by (held, while it still is the fd's file). Before, the new name
// reached the primary alone and the secondary was reported failed (EBADF).
#include "check.h"

static void expect_one_file(const char *a, const char *b)
{
	const char *members[] = {"primary", "secondary"};
	for (int i = 0; i < 2; i++) {
		struct stat x = xstat(member_path(members[i], a)), y = xstat(member_path(members[i], b));
		CHECK_EQ(x.st_ino, y.st_ino);
	}
}

int main(void)
{
	write_file(SHADOW "/f", "linked\n");
	CHECK_SYS(mkdir(SHADOW "/d", 0755));

	int ro = CHECK_SYS(open(SHADOW "/f", O_RDONLY));
	CHECK_SYS(linkat(ro, "", AT_FDCWD, SHADOW "/g", AT_EMPTY_PATH));
	expect_one_file(SHADOW "/f", SHADOW "/g");
	CHECK_SYS(close(ro));

	int path = CHECK_SYS(open(SHADOW "/f", O_PATH));
	CHECK_SYS(linkat(path, "", AT_FDCWD, SHADOW "/d/h", AT_EMPTY_PATH));
	CHECK_SYS(linkat(AT_FDCWD, xasprintf("/proc/self/fd/%d", path), AT_FDCWD, SHADOW "/i", AT_SYMLINK_FOLLOW));
	expect_one_file(SHADOW "/f", SHADOW "/d/h");
	expect_one_file(SHADOW "/f", SHADOW "/i");
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/f")).st_nlink, 4);
	// A name that exists: EEXIST from the lead, nothing on the follower.
	CHECK_ERR(linkat(path, "", AT_FDCWD, SHADOW "/g", AT_EMPTY_PATH), EEXIST);
	CHECK_SYS(close(path));

	int dirfd = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	ro = CHECK_SYS(openat(dirfd, "h", O_RDONLY));
	CHECK_SYS(linkat(ro, "", dirfd, "j", AT_EMPTY_PATH));
	expect_one_file(SHADOW "/f", SHADOW "/d/j");
	CHECK_SYS(close(ro));
	CHECK_SYS(close(dirfd));
	return 0;
}
