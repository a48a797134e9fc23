// pidfd_getfd_behind: under write-behind, a copy of another process's fd taken by
// pidfd_getfd is mirrored, and the file is reported insecure: the process it was taken
// from does not know its file description is shared, so writes it queues may reach the
// follower after the copy's (here it writes only after the copy did, so the members match).
// timeout: 60
// config: write_behind = true
// expect-history: pidfd_getfd
#include "check.h"
#include <sys/pidfd.h>
#include <sys/syscall.h>

int main(void)
{
	int ready[2], done[2];
	CHECK_SYS(pipe(ready));
	CHECK_SYS(pipe(done));
	pid_t child = CHECK_SYS(fork());
	if (child == 0) {
		int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		CHECK_EQ(write(ready[1], &fd, sizeof fd), (ssize_t)sizeof fd);
		char c;
		CHECK_EQ(read(done[0], &c, 1), 1);
		CHECK_EQ(pwrite(fd, "child", 5, 8), 5);
		CHECK_SYS(close(fd));
		_exit(0);
	}
	int fd;
	CHECK_EQ(read(ready[0], &fd, sizeof fd), (ssize_t)sizeof fd);
	int pidfd = CHECK_SYS((int)syscall(SYS_pidfd_open, child, 0));
	int copy = CHECK_SYS(pidfd_getfd(pidfd, fd, 0));
	CHECK_EQ(pwrite(copy, "parent!!", 8, 0), 8);
	CHECK_SYS(close(copy));
	CHECK_EQ(write(done[1], "x", 1), 1);
	wait_ok(child);
	EXPECT_FILE(SHADOW "/f", "parent!!child");
	return 0;
}
