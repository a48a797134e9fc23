// pidfd_getfd_behind: under write-behind, a copy of another process's fd taken by
// pidfd_getfd is mirrored, and the file is reported insecure: the process it was taken
// from does not know its file description is shared, so writes it queues may reach the
// follower after the copy's (here it writes only after the copy did, so the members match).
// timeout: 60
// config: write_behind = true
// expect-history: pidfd_getfd
// expect-recover: needed
#include "check.h"
#include <sys/pidfd.h>
#include <sys/syscall.h>

static void child_writes(int fd)
{
	CHECK_EQ(pwrite(fd, "child", 5, 8), 5);
}

int main(void)
{
	struct held_open h = held_open(SHADOW "/f", O_WRONLY | O_TRUNC, NULL, child_writes);
	pid_t child = h.pid;
	int fd = h.fd;
	int pidfd = CHECK_SYS((int)syscall(SYS_pidfd_open, child, 0));
	int copy = CHECK_SYS(pidfd_getfd(pidfd, fd, 0));
	CHECK_EQ(pwrite(copy, "parent!!", 8, 0), 8);
	CHECK_SYS(close(copy));
	release_held(&h);
	EXPECT_FILE(SHADOW "/f", "parent!!child");
	return 0;
}
