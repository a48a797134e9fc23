// append_only: a file made append-only (`chattr +a`, FS_APPEND_FL) is appended to on both
// members: by a shell's `>>`, by write and by pwrite (which appends on an O_APPEND fd), and
// an open for writing without O_APPEND is refused EPERM, as natively. The follower's file
// opens for writing only to append; before, the shim opened it without O_APPEND (its
// writes go at the lead's offsets), the open failed EPERM, the file was reported insecure
// and the follower kept the old size. Needs CAP_LINUX_IMMUTABLE (root, as CI runs) and a
// file system with inode flags for the members (ext4 here); the flag is cleared at the end,
// so that the harness can remove the files, and the follower then gets the lead's times.
#include "check.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

static void set_append_only(const char *path, int on)
{
	int fd = CHECK_SYS(open(path, O_RDONLY));
	int flags = 0;
	CHECK_SYS(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags = on ? flags | FS_APPEND_FL : flags & ~FS_APPEND_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
		check_fail(HERE, errno, "append-only cannot be set here (needs root and inode flags): the test cannot run");
	CHECK_SYS(close(fd));
}

int main(void)
{
	write_file(SHADOW "/log", "first\n");
	set_append_only(SHADOW "/log", 1);

	errno = 0;
	CHECK_EQ(open(SHADOW "/log", O_WRONLY), -1);
	CHECK_EQ(errno, EPERM);
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_APPEND));
	CHECK_EQ(write(fd, "second\n", 7), 7);
	CHECK_EQ(pwrite(fd, "third\n", 6, 0), 6);
	CHECK_SYS(close(fd));
	CHECK_EQ(system("echo fourth >> " SHADOW "/log"), 0);
	fd = CHECK_SYS(open(SHADOW "/log", O_RDWR | O_APPEND | O_CREAT, 0644));
	CHECK_EQ(write(fd, "fifth\n", 6), 6);
	CHECK_SYS(close(fd));

	CHECK_STREQ(read_whole_file(SHADOW "/log", NULL), "first\nsecond\nthird\nfourth\nfifth\n");
	CHECK_STREQ(read_whole_file(member_path("secondary", SHADOW "/log"), NULL), "first\nsecond\nthird\nfourth\nfifth\n");
	/* Its last closes could not give the follower the lead's times (a file that only
	 * appends takes none, root's included): it gets them when the flag goes. The
	 * follower's own are made old here, behind the shim's back, so that they differ
	 * whatever the file system's clock granularity. */
	const char *own = member_path("secondary", SHADOW "/log");
	set_append_only(own, 0);
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	CHECK_SYS(utimensat(AT_FDCWD, own, old, 0));
	set_append_only(own, 1);
	set_append_only(SHADOW "/log", 0);
	struct stat p = xstat(member_path("primary", SHADOW "/log")), q = xstat(own);
	CHECK_EQ(q.st_mtim.tv_sec, p.st_mtim.tv_sec);
	CHECK_EQ(q.st_mtim.tv_nsec, p.st_mtim.tv_nsec);
	return 0;
}
