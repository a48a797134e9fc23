// unseen_read: a read the shim cannot see (a raw `syscall` instruction, as io_uring or a
// child of clone() without CLONE_VM can make too) on a readable and writable fd, then a
// write: the follower must get the write where the kernel put the primary's, past the
// read, however the process then lets go of the file (close, lseek, `_exit`, exec with the
// fd kept or closed, after a fork, a thread or `system()`). The shim asks the kernel where
// each write on a readable fd landed (an lseek), so the members stay level and nothing is
// reported. A build that followed such an fd's position itself (counting the reads it
// sees) put the secondary's bytes at the followed position: the members differed, and
// after a read it did see, or a fork, silently; it was reverted (README, "What is
// mirrored").
// config: write_behind = false
#include "check.h"
#include <sys/syscall.h>

static long raw_read(int fd, void *buf, size_t n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return r;
}

/* A write after a read the shim did not see: "aaaccc" on both members. */
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

static void after_read(int fd)
{
	char c;
	CHECK_EQ(read(fd, &c, 1), 0);
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
	in_child("unseen_then_read", 0, after_read);

	/* glibc's own reads, no hook sees them: a stream whose fd was replaced by dup2. */
	const char *gpath = SHADOW "/unseen_stdio";
	int g = CHECK_SYS(open(gpath, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(g, "aaabbb");
	CHECK_EQ(lseek(g, 0, SEEK_SET), 0);
	FILE *f = CHECK_PTR(fopen(xasprintf("%s/plain", test_tmp()), "w+"));
	CHECK_SYS(dup2(g, fileno(f)));
	CHECK_EQ(fgetc(f), 'a');			/* glibc read all 6 bytes */
	write_str(g, "ccc");				/* 6..9 */
	CHECK_SYS(fclose(f));
	CHECK_SYS(close(g));
	EXPECT_FILE(gpath, "aaabbbccc");

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
