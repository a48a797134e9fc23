// proc_other_fd: another process's fd link, /proc/PID/fd/N, followed to its file — the
// log-truncation idiom `: > /proc/PID/fd/1`, an append through it, truncate(2), chmod,
// setxattr — reaches both members: the file is taken by the name the kernel gives the link
// now (renames included). Before, all of these reached the primary alone, unreported. The
// link itself (readlink, lstat) stays the kernel's.
#include "check.h"

#include <sys/xattr.h>

static void two_lines(int fd)
{
	write_str(fd, "line 1\nline 2\n");
}

static void one_more(int fd)
{
	write_str(fd, "after\n");
}

int main(void)
{
	struct held_open h = held_open(SHADOW "/log", O_WRONLY | O_APPEND, two_lines, one_more);
	const char *link = xasprintf("/proc/%d/fd/%d", (int)h.pid, h.fd);

	// Renamed while held: the link names the file as it is now.
	CHECK_SYS(rename(SHADOW "/log", SHADOW "/log.1"));
	int t = CHECK_SYS(open(link, O_WRONLY | O_TRUNC));
	CHECK_SYS(close(t));
	EXPECT_FILE(member_path("secondary", SHADOW "/log.1"), "");
	int a = CHECK_SYS(open(link, O_WRONLY | O_APPEND));
	write_str(a, "injected\n");
	CHECK_SYS(close(a));
	CHECK_SYS(truncate(link, 4));
	CHECK_SYS(chmod(link, 0600));
	CHECK_SYS(setxattr(link, "user.via", "other", 5, 0));
	struct timespec ts[2] = {{1000000000, 0}, {1100000000, 0}};
	CHECK_SYS(utimensat(AT_FDCWD, link, ts, 0));
	char target[4096];
	CHECK(readlink(link, target, sizeof target) > 0);
	release_held(&h);

	EXPECT_FILE(SHADOW "/log.1", "injeafter\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/log.1"), "injeafter\n");
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/log.1")).st_mode & 07777, 0600);
	char v[8];
	CHECK_EQ(getxattr(member_path("secondary", SHADOW "/log.1"), "user.via", v, sizeof v), 5);
	return 0;
}
