// linkat_by_fd: a new name for the file a read-only or O_PATH fd is open on —
// linkat(fd, "", AT_EMPTY_PATH) and linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW —
// reaches both members: such an fd has no follower fd, so the follower's file is linked by
// the name it was opened by (held, while it still is the fd's file). Before, the new name
// reached the primary alone and the secondary was reported failed (EBADF). Also: such an
// fd's file renamed since its open, a FIFO's fd, a destination through an absolute
// symlink into the prefix (tests/scripts/namespace_fuzz.py found all three).
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

	/* Renamed since its open: linked by its name now (before, on the lead alone: ESTALE,
	 * 00030). */
	ro = CHECK_SYS(openat(dirfd, "j", O_RDONLY));
	CHECK_SYS(renameat(dirfd, "j", dirfd, "k"));
	CHECK_SYS(linkat(AT_FDCWD, xasprintf("/proc/self/fd/%d", ro), AT_FDCWD, SHADOW "/l", AT_SYMLINK_FOLLOW));
	expect_one_file(SHADOW "/f", SHADOW "/l");
	/* A destination through an absolute symlink into the prefix, which a member's kernel
	 * cannot follow: made where it leads (before, ENOENT). */
	CHECK_SYS(symlink(SHADOW "/d", SHADOW "/abs"));
	CHECK_SYS(linkat(ro, "", AT_FDCWD, SHADOW "/abs/m", AT_EMPTY_PATH));
	expect_one_file(SHADOW "/f", SHADOW "/d/m");
	CHECK_SYS(close(ro));
	CHECK_SYS(close(dirfd));

	/* A FIFO's fd (a node: no OCB) by /proc/self/fd (before, EXDEV), and one whose name
	 * is gone: the kernel's ENOENT. */
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0600));
	int fifo = CHECK_SYS(open(SHADOW "/fifo", O_RDONLY | O_NONBLOCK));
	CHECK_SYS(linkat(AT_FDCWD, xasprintf("/proc/self/fd/%d", fifo), AT_FDCWD, SHADOW "/fifo2", AT_SYMLINK_FOLLOW));
	expect_one_file(SHADOW "/fifo", SHADOW "/fifo2");
	CHECK_SYS(unlink(SHADOW "/fifo"));
	CHECK_SYS(unlink(SHADOW "/fifo2"));
	CHECK_ERR(linkat(AT_FDCWD, xasprintf("/proc/self/fd/%d", fifo), AT_FDCWD, SHADOW "/fifo3", AT_SYMLINK_FOLLOW), ENOENT);
	CHECK_ERR(linkat(fifo, "", AT_FDCWD, SHADOW "/fifo3", AT_EMPTY_PATH), ENOENT);
	EXPECT_MISSING(member_path("secondary", SHADOW "/fifo3"));
	CHECK_SYS(close(fifo));
	return 0;
}
