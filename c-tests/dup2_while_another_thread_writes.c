// dup2_while_another_thread_writes: one thread writes to a number in a loop while the main
// thread keeps putting the two files under the prefix there in turn with dup2 (a log's fd
// redirected while threads write to it). Each write lands, as natively, in the file the
// number held when it was made, on both members: the number's change and its link to the
// shim's record of the open are one step for the other threads, and a write found the old
// file's open is made again for the new one. Before, a write between the two reached the
// new file on the lead and the old one's follower, and the members differed (a futimens:
// the new file's times on the old one's follower, helper-50; a dup: linked to the old
// file's open, helper-51). Then the
// number goes between a file outside the prefix and one under it: a write that passed
// through untouched (the number was not a shadowed file's when the hook looked) but landed
// on the new file is noticed, and the file levelled at its last close; before, it reached
// the lead alone (reported when the position moved, or not at all).
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NUMBER = 50, ROUNDS = 3000 };

static atomic_int stop, written;

static void *writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		ssize_t n = write(NUMBER, "0123456789abcdef", 16);
		CHECK_EQ(n, 16);
		int w = atomic_fetch_add(&written, 1);
		struct timespec t[2] = { { 1000000 + w, 0 }, { 2000000 + w, 0 } };
		CHECK_SYS(futimens(NUMBER, t));
		if (w % 8 == 0) {
			/* A copy made as the number is redirected is of one file, linked to its open. */
			int copy = CHECK_SYS(dup(NUMBER));
			CHECK_EQ(write(copy, "FEDCBA9876543210", 16), 16);
			CHECK_SYS(close(copy));
		}
	}
	return NULL;
}

/* Puts `x` and `y` at NUMBER in turn while the writer writes there. */
static void alternate(int x, int y)
{
	CHECK_SYS(dup2(x, NUMBER));
	atomic_store(&stop, 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	for (int i = 0; i < ROUNDS; i++) {
		/* The writer writes between any two dup2s, and mostly while one is made. */
		for (int w = atomic_load(&written); atomic_load(&written) == w;)
			sched_yield();
		CHECK_SYS(dup2(i % 2 ? y : x, NUMBER));
	}
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(NUMBER));
}

static void expect_written(const char *path)
{
	struct stat st;
	CHECK_SYS(stat(path, &st));
	CHECK(st.st_size >= ROUNDS / 2 * 16 && st.st_size % 16 == 0);
}

int main(void)
{
	int a = CHECK_SYS(open(SHADOW "/a", O_CREAT | O_WRONLY | O_APPEND, 0644));
	int b = CHECK_SYS(open(SHADOW "/b", O_CREAT | O_WRONLY, 0644));
	alternate(a, b);
	CHECK_SYS(close(a));
	CHECK_SYS(close(b));
	expect_written(SHADOW "/a");

	char *outside = xasprintf("%s/outside", test_tmp());
	int c = CHECK_SYS(open(outside, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	int d = CHECK_SYS(open(SHADOW "/d", O_CREAT | O_WRONLY, 0644));
	alternate(c, d);
	CHECK_SYS(close(c));
	CHECK_SYS(close(d));
	expect_written(outside);
	free(outside);
	return 0;
}
