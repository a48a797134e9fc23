// proc_paths: paths that pass through a directory the process holds — /proc/self/fd/N/name
// and /dev/fd/N/name for a directory fd N, /proc/self/cwd/name — reach both members, walked
// from that directory's twin; so does a writable reopen of a read-only fd's /dev/fd/N
// (`exec 4<f; echo x >/dev/fd/4`), which has no follower fd to reopen. GNU tar sets xattrs and ACLs this way (setxattr on
// /proc/self/fd/N/name); before, they and these writes reached the primary alone,
// unreported. The links themselves (readlink of /proc/self/cwd) still answer as the kernel
// does.
#include "check.h"

#include <sys/xattr.h>

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/sub", 0755));
	int dfd = CHECK_SYS(open(SHADOW "/sub", O_RDONLY | O_DIRECTORY));
	write_file(xasprintf("/proc/self/fd/%d/x", dfd), "via proc\n");
	write_file(xasprintf("/dev/fd/%d/y", dfd), "via dev\n");
	CHECK_SYS(mkdir(xasprintf("/proc/self/fd/%d/d", dfd), 0700));
	CHECK_SYS(chmod(xasprintf("/proc/thread-self/fd/%d/x", dfd), 0600));
	CHECK_SYS(setxattr(xasprintf("/proc/self/fd/%d/x", dfd), "user.k", "v", 1, 0));
	char v[8];
	CHECK_EQ(getxattr(member_path("secondary", SHADOW "/sub/x"), "user.k", v, sizeof v), 1);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/sub/x")).st_mode & 07777, 0600);

	CHECK_SYS(chdir(SHADOW "/sub"));
	write_file("/proc/self/cwd/z", "via cwd\n");
	CHECK_SYS(unlink("/proc/self/cwd/y"));
	char link[4096];
	CHECK(readlink("/proc/self/cwd", link, sizeof link) > 0);
	CHECK(readlink(xasprintf("/proc/self/fd/%d", dfd), link, sizeof link) > 0);

	write_file(SHADOW "/sub/r", "orig\n");
	int ro = CHECK_SYS(open(SHADOW "/sub/r", O_RDONLY));
	write_file(xasprintf("/dev/fd/%d", ro), "NEW\n");
	CHECK_SYS(close(ro));
	EXPECT_FILE(member_path("secondary", SHADOW "/sub/r"), "NEW\n");

	EXPECT_FILE(SHADOW "/sub/x", "via proc\n");
	EXPECT_FILE(SHADOW "/sub/z", "via cwd\n");
	EXPECT_MISSING(SHADOW "/sub/y");
	EXPECT_FILE(member_path("secondary", SHADOW "/sub/z"), "via cwd\n");
	CHECK_SYS(close(dfd));
	return 0;
}
