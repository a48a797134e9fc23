// proc_other_unnamed: another process's /proc/PID/fd/N to a file whose name was removed
// while it keeps another (`ln c c2; rm c`: the link reads `.../c (deleted)`). The shim
// cannot tell which name the follower's file has now, and the kernel changes the lead's
// alone: each such change is reported (00030, naming the removed name), and the next
// recover verifies everything (`status` says recover is due). Before, chmod and O_TRUNC
// opens through it reached the primary alone, unreported.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00030 .*/c\].*removed under this name.*recover. verifies everything
#include "check.h"

static void some_lines(int fd)
{
	write_str(fd, "held\n");
}

int main(void)
{
	struct held_open h = held_open(SHADOW "/c", O_WRONLY | O_APPEND, some_lines, NULL);
	const char *link_path = xasprintf("/proc/%d/fd/%d", (int)h.pid, h.fd);
	CHECK_SYS(link(SHADOW "/c", SHADOW "/c2"));
	CHECK_SYS(unlink(SHADOW "/c"));

	CHECK_SYS(chmod(link_path, 0600));
	int t = CHECK_SYS(open(link_path, O_WRONLY | O_TRUNC));
	CHECK_SYS(close(t));
	// Failures stay the kernel's, unreported.
	CHECK_ERR(truncate(link_path, -1), EINVAL);
	release_held(&h);

	CHECK_EQ(xstat(SHADOW "/c2").st_mode & 07777, 0600);
	CHECK_EQ(file_size(SHADOW "/c2"), 0);
	// The follower's file is as it was: the report says so.
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/c2")).st_mode & 07777, 0644);
	return 0;
}
