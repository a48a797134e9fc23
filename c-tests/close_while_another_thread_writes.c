// close_while_another_thread_writes: one thread writes a file 1 MiB at a time while the
// main thread closes the file's only fd, most often while a write is under way (natively
// that write completes; the thread's next one fails EBADF). The close is the file's last:
// it settles the file (the follower gets the lead's times, the write intent ends) even
// though the writing thread still holds the open for its write. Before, a close counted
// the open's other holders, the write in flight among them: nothing settled the file, and
// status said recover was due (run.sh fails the test on that) with its mtimes apart; and
// a futimens the close came in the middle of failed EBADF on the follower (helper-50:
// reported, recover due, though nothing differed).
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { CHUNK = 1 << 20, FILES = 20 };

static int fd;
static atomic_int written, closed;

static void *writer(void *arg)
{
	char *buf = arg;
	while (!atomic_load(&closed)) {
		ssize_t n = write(fd, buf, CHUNK);
		if (n < 0) {
			CHECK(errno == EBADF);
			break;
		}
		CHECK_EQ(n, CHUNK);
		/* And its times, which the close may interrupt as well. */
		struct timespec t[2] = { { 1000000 + n, 0 }, { 2000000 + atomic_load(&written), 0 } };
		CHECK(futimens(fd, t) == 0 || errno == EBADF);
		atomic_fetch_add(&written, 1);
	}
	return NULL;
}

int main(void)
{
	char *buf = CHECK_PTR(malloc(CHUNK));
	memset(buf, 'w', CHUNK);
	for (int i = 0; i < FILES; i++) {
		char *path = xasprintf(SHADOW "/f%d", i);
		fd = CHECK_SYS(open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644));
		atomic_store(&written, 0);
		atomic_store(&closed, 0);
		pthread_t t;
		CHECK(pthread_create(&t, NULL, writer, buf) == 0);
		while (atomic_load(&written) < 3)
			sched_yield();
		CHECK_SYS(close(fd));
		atomic_store(&closed, 1);
		CHECK(pthread_join(t, NULL) == 0);
		struct stat st;
		CHECK_SYS(stat(path, &st));
		CHECK(st.st_size >= 3 * CHUNK && st.st_size % CHUNK == 0);
		free(path);
	}
	free(buf);
	return 0;
}
