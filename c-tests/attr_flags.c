// attr_flags: inode flags set through a read-only fd (FS_IOC_SETFLAGS, as chattr does)
// reach both members: the follower's file is reached by name. Before, the lead's flags
// alone changed, unreported (verify does not compare flags). Needs a file system with
// inode flags for the members (ext4 here).
#include "check.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

static int flags_of(const char *path)
{
	int fd = CHECK_SYS(open(path, O_RDONLY));
	int flags = 0;
	CHECK_SYS(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	CHECK_SYS(close(fd));
	return flags;
}

int main(void)
{
	write_file(SHADOW "/f", "x");
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	const char *paths[] = { SHADOW "/f", SHADOW "/d" };
	for (int i = 0; i < 2; i++) {
		int fd = CHECK_SYS(open(paths[i], O_RDONLY | O_NONBLOCK));
		int flags = 0;
		CHECK_SYS(ioctl(fd, FS_IOC_GETFLAGS, &flags));
		flags |= FS_NODUMP_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
			check_fail(HERE, errno, "inode flags cannot be set here: the test cannot run");
		CHECK_SYS(close(fd));
		CHECK(flags_of(member_path("primary", paths[i])) & FS_NODUMP_FL);
		CHECK(flags_of(member_path("secondary", paths[i])) & FS_NODUMP_FL);
	}
	return 0;
}
