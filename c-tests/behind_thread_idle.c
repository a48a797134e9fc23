// config: write_behind = true
/* behind_thread_idle.c - write-behind's queue thread ends once the queue has been idle for
 * a while (a thread costs every syscall of the process while it runs) and the next write
 * starts another. Writes made around the moment it ends, at intervals near its idle time,
 * must all reach the secondary without anything draining the queue (no fsync, no close):
 * a write queued while the thread ends and never handed to a new one would sit there.
 */
#include "check.h"
#include <time.h>


static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static off_t secondary_size(const char *vpath)
{
	struct stat st;
	/* An absolute path outside the prefix: passed through untouched (no wait). */
	CHECK_SYS(stat(member_path("secondary", vpath), &st));
	return st.st_size;
}

int main(void)
{
	const char *queue_thread = "libshadow-wb";
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	char line[64];
	off_t total = 0;

	/* A write starts the thread; seen running unless this process was held off the CPU
	 * for its whole idle time (then tried again). */
	int n, seen = 0;
	for (int attempt = 0; attempt < 5 && !seen; attempt++) {
		n = snprintf(line, sizeof line, "first %d\n", attempt);
		write_all(fd, line, n);
		total += n;
		seen = thread_named(queue_thread);
	}
	CHECK(seen);
	for (int i = 0; i < 300 && thread_named(queue_thread); i++)
		sleep_ms(10);
	CHECK(!thread_named(queue_thread));
	CHECK_EQ(secondary_size(SHADOW "/log"), total);

	/* Around the thread's end: 100 ms idle after it wrote the last write out. */
	for (int i = 0; i < 24; i++) {
		sleep_ms(96 + i % 24);
		n = snprintf(line, sizeof line, "line %d\n", i);
		write_all(fd, line, n);
		total += n;
	}
	for (int i = 0; i < 300 && secondary_size(SHADOW "/log") < total; i++)
		sleep_ms(10);
	CHECK_EQ(secondary_size(SHADOW "/log"), total);
	CHECK_SYS(close(fd));
	return 0;
}
