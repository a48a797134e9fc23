// pidfd_getfd: a process takes a copy of another's fd on a mirrored file (pidfd_getfd(2),
// by the glibc wrapper and the raw system call) and writes through it, inside the file and
// past its end: the writes reach both members (before, the copy was not seen and they
// reached the primary only). By pwrite: a write at the shared position would move the
// position the other process's shim follows, which that one reports at its close
// (README).
// (pidfd_getfd_behind: the same under write-behind.)
// timeout: 60
// config: write_behind = false
#include "check.h"
#include <sys/pidfd.h>
#include <sys/syscall.h>

static int take(pid_t pid, int fd, int raw)
{
	int pidfd = CHECK_SYS((int)syscall(SYS_pidfd_open, pid, 0));
	int got = raw ? (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0) : pidfd_getfd(pidfd, fd, 0);
	CHECK_SYS(got);
	CHECK_SYS(close(pidfd));
	return got;
}

static void eight_a(int fd)
{
	write_all(fd, "aaaaaaaa", 8);
}

int main(void)
{
	struct held_open h = held_open(SHADOW "/f", O_WRONLY | O_TRUNC, eight_a, NULL);
	pid_t child = h.pid;
	int fd = h.fd;
	int a = take(child, fd, 0);
	CHECK_EQ(pwrite(a, "P", 1, 2), 1);
	int b = take(child, fd, 1);
	CHECK_EQ(pwrite(b, "R", 1, 4), 1);
	CHECK_EQ(pwrite(b, "tail", 4, 8), 4);
	CHECK_SYS(close(a));
	CHECK_SYS(close(b));
	release_held(&h);
	EXPECT_FILE(SHADOW "/f", "aaPaRaaatail");
	return 0;
}
