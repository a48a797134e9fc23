// read_by_a_thread_glibc_does_not_count: a thread made by clone(CLONE_VM | CLONE_THREAD...)
// rather than pthread_create reads through an O_RDWR description while the main thread
// writes at its position. glibc neither counts such a thread nor clears its
// single-threaded flag, so the shim took the process for single-threaded, asked the kernel
// where each write landed only after it, and a read in between sent the secondary's bytes
// elsewhere: the members differed, unreported. The clone hook now marks the process as
// having threads of the program's. (A pthread reader is shared_position.c's.)
#include "check.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define WRITES 20000

static atomic_int stop, done;

/* Raw system calls only: the thread shares the main thread's TLS (errno among it). */
static long raw3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static int read_along(void *arg)
{
	int fd = *(int *)arg;
	char buf[7];
	while (!atomic_load(&stop))
		raw3(SYS_read, fd, (long)buf, sizeof buf);
	atomic_store(&done, 1);
	raw3(SYS_exit, 0, 0, 0);
	return 0;
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/by-clone", O_RDWR | O_CREAT | O_TRUNC, 0644));
	static char dots[300000];
	memset(dots, '.', sizeof dots);
	write_all(fd, dots, sizeof dots);
	CHECK_SYS(lseek(fd, 0, SEEK_SET));

	size_t size = 1 << 16;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(stack != MAP_FAILED);
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	CHECK_SYS(clone(read_along, stack + size, flags, &fd));

	char rec[8];
	for (int i = 0; i < WRITES; i++) {
		int len = snprintf(rec, sizeof rec, "W%04d", i % 10000);
		CHECK_EQ(write(fd, rec, len), (ssize_t)len);
	}
	atomic_store(&stop, 1);
	while (!atomic_load(&done))
		usleep(1000);
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(SHADOW "/by-clone");
	return 0;
}
