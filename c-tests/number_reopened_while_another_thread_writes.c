// number_reopened_while_another_thread_writes: one thread keeps changing the file at a
// number (pwrite, write, ftruncate, fchmod, futimens) while the main thread
// closes the number and opens another file under the prefix, which the kernel gives the
// same number (a program that reuses numbers under its threads: each call reaches whichever
// file the number holds when it is made). The members end identical: a call that passed
// the number straight through because it held no file of the shim's when the hook looked,
// and reached a file another thread was opening there, is noticed (the open counts itself
// in flight, and the call leaves a note it looks for as it links the number), and the file
// is levelled whole at its last close, its mode and owner too. Before, such calls reached
// the new file's lead alone, unreported (every file of helper-50's run). Then the same with
// the new file put at the number by F_DUPFD after the close.
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

/* A file of its own each round: a later round's mirrored change would cover a difference. */
enum { ROUNDS = 400 };

static int number;
static atomic_int stop, made;

static void *changer(void *arg)
{
	(void)arg;
	char line[32];
	for (int k = 0; !atomic_load(&stop); k++) {
		int n = snprintf(line, sizeof line, "change %d\n", k);
		/* Each may fail (EBADF) while the number is closed: as natively. */
		switch (k % 5) {
		case 0: (void)!pwrite(number, line, n, (k * 7) % 400); break;
		case 1: (void)!write(number, line, n); break;
		case 2: (void)!ftruncate(number, k % 300); break;
		case 3: (void)!fchmod(number, k % 2 ? 0600 : 0640); break;
		case 4: {
			struct timespec t[2] = { { 1000000 + k, 0 }, { 2000000 + k, 0 } };
			(void)!futimens(number, t);
		} break;
		}
		atomic_fetch_add(&made, 1);
	}
	return NULL;
}

static char *name(int by_dupfd, int i)
{
	return xasprintf(SHADOW "/%s%d", by_dupfd ? "dupfd" : "open", i);
}

static void reuse(int by_dupfd)
{
	char *first = name(by_dupfd, 0);
	number = CHECK_SYS(open(first, O_CREAT | O_WRONLY, 0644));
	free(first);
	atomic_store(&stop, 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, changer, NULL) == 0);
	for (int i = 1; i < ROUNDS; i++) {
		for (int m = atomic_load(&made); atomic_load(&made) == m;)
			sched_yield();
		char *path = name(by_dupfd, i);
		int flags = O_CREAT | O_WRONLY | (i % 3 == 0 ? O_APPEND : 0);
		int fd;
		if (by_dupfd) {
			int t = CHECK_SYS(open(path, flags, 0644));
			CHECK_SYS(close(number));
			fd = CHECK_SYS(fcntl(t, F_DUPFD, number));
			CHECK_SYS(close(t));
		} else {
			CHECK_SYS(close(number));
			/* The lowest free number: the one just closed. */
			fd = CHECK_SYS(open(path, flags, 0644));
		}
		CHECK_EQ(fd, number);
		free(path);
	}
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(number));
}

int main(void)
{
	reuse(0);
	reuse(1);
	return 0;
}
