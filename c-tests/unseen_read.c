// unseen_read: a read the shim cannot see (a raw `syscall` instruction) on a readable and
// writable fd, whose position the shim follows while the process has one thread (so
// synchronous mirroring here: write-behind's thread makes the process threaded, and then
// the kernel is asked after every write). The next write lands past the read on the
// primary and at the followed position on the secondary: reported at the last close, or
// at the next lseek when one comes first (after which the close would find the position
// agreeing again), and however the process lets go of the file: `_exit`, an exec (the fd
// kept or closed), or after a fork, a `system()` or a second thread, after which the
// position is no longer followed (the child's or the thread's reads are not this
// process's to count). See unseen_write.c for writes.
// config: write_behind = false
// expect-verify: differ
// expect-history: unseen_read\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_seek\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_exit\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_exec\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_exec_cloexec\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_fork\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_thread\]\[reads or writes the shim did not see moved the file position
// expect-history: unseen_system\]\[reads or writes the shim did not see moved the file position
// expect-history: ended with changes in flight
// expect-recover: needed
#include "check.h"
#include <sys/syscall.h>

static long raw_read(int fd, void *buf, size_t n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return r;
}

/* A write placed after a read the shim did not see: "aaaccc" on the primary. */
static int diverge(const char *path, int flags)
{
	char buf[3];
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0644));
	write_str(fd, "aaabbb");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(raw_read(fd, buf, 3), 3);
	write_str(fd, "ccc");
	return fd;
}

static void *nothing(void *arg)
{
	return arg;
}

/* Runs `ending` in a child that made a file diverge first. */
static void in_child(const char *name, int flags, void (*ending)(int fd))
{
	char *path = xasprintf(SHADOW "/%s", name);
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		ending(diverge(path, flags));
		exit(0);
	}
	wait_ok(pid);
	EXPECT_FILE(path, "aaaccc");
	free(path);
}

static void by_exit(int fd)
{
	(void)fd;
	_exit(0);
}

static void by_exec(int fd)
{
	(void)fd;
	execl("/bin/true", "true", (char *)NULL);
	_exit(1);
}

static void after_fork(int fd)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0)
		_exit(0);
	wait_ok(pid);
	CHECK_SYS(close(fd));
}

static void after_thread(int fd)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(fd));
}

static void after_system(int fd)
{
	CHECK(system("true") == 0);
	CHECK_SYS(close(fd));
}

int main(void)
{
	in_child("unseen_exit", 0, by_exit);
	in_child("unseen_exec", 0, by_exec);
	in_child("unseen_exec_cloexec", O_CLOEXEC, by_exec);
	in_child("unseen_fork", 0, after_fork);
	in_child("unseen_thread", 0, after_thread);
	in_child("unseen_system", 0, after_system);

	const char *path = SHADOW "/unseen_read";
	char buf[3];
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaabbb");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(raw_read(fd, buf, 3), 3);
	write_str(fd, "ccc");
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "aaaccc");

	const char *spath = SHADOW "/unseen_seek";
	fd = CHECK_SYS(open(spath, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "aaabbb");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(raw_read(fd, buf, 3), 3);
	write_str(fd, "ccc");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	write_str(fd, "ddd");
	CHECK_EQ(lseek(fd, 0, SEEK_END), 6);
	CHECK_SYS(close(fd));
	EXPECT_FILE(spath, "dddccc");
	return 0;
}
