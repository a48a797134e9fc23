// write_edges: writes the shim's one copy of the bytes (ocb::Snapshot) must not change —
// a buffer whose page was replaced by an inaccessible one since an earlier write (EFAULT,
// natively; the shim's memory of readable pages was stale and its copy faulted: SIGSEGV),
// a buffer in a mapping of a file truncated under it (EFAULT, not SIGBUS), and writes from
// a signal handler that interrupts the program's malloc (the copy must not allocate there:
// the heap was corrupted).
// timeout: 120
#include "check.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

static int fd;
static volatile long handled;
static char small[100];

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(fd, small, sizeof small) == (ssize_t)sizeof small)
		handled++;
	errno = saved;
}

int main(void)
{
	fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	long page = sysconf(_SC_PAGESIZE);

	char *buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED);
	memset(buf, 'a', page);
	CHECK_EQ(write(fd, buf, 100), 100);
	CHECK(mmap(buf, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == buf);
	CHECK_ERR(write(fd, buf, 100), EFAULT);

	int other = CHECK_SYS(open(SHADOW "/mapped", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(other, 2 * page));
	char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, other, 0);
	CHECK(m != MAP_FAILED);
	memset(m, 'm', 2 * page);
	CHECK_EQ(write(fd, m + page, 100), 100);
	CHECK_SYS(ftruncate(other, 0));
	CHECK_ERR(write(fd, m + page, 100), EFAULT);
	CHECK_SYS(munmap(m, 2 * page));
	CHECK_SYS(close(other));

	/* The handler's thread writes for the first time in the handler: no spare buffer. */
	memset(small, 's', sizeof small);
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	struct itimerval every = {{0, 200}, {0, 200}};
	pid_t child = CHECK_SYS(fork());
	if (child == 0) {
		fd = CHECK_SYS(open(SHADOW "/from_handler", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		CHECK_SYS(setitimer(ITIMER_REAL, &every, NULL));
		for (long i = 0; i < 400000; i++) {
			void *p = malloc(64 + i % 4000);
			free(p);
		}
		struct itimerval off = {{0, 0}, {0, 0}};
		CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
		CHECK(handled > 0);
		exit(0);
	}
	wait_ok(child);
	CHECK_SYS(close(fd));
	return 0;
}
