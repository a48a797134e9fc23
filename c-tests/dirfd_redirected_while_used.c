// dirfd_redirected_while_used: one thread creates, makes directories, removes and chmods
// names relative to a directory fd number while the main thread keeps putting other
// directories under the prefix at that number with dup2. Each call is made on both members
// in one directory, the one the number held when the shim looked: its lead side is held
// apart from the program's number once the program has threads. Before (helper-50), the
// lead's part went to the directory the number held when the kernel ran it and the
// follower's to the one the shim had looked up: entries on one member only, most of them
// unreported, and `recover` missed some.
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NUMBER = 60, ROUNDS = 1500, DIRS = 4 };

static atomic_int stop, done;

static void *maker(void *arg)
{
	(void)arg;
	for (unsigned k = 0; !atomic_load(&stop); k++) {
		char name[16];
		snprintf(name, sizeof name, "n%u", k % 50);
		switch (k % 4) {
		case 0: {
			int fd = openat(NUMBER, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				CHECK_EQ(write(fd, name, strlen(name)), (ssize_t)strlen(name));
				CHECK_SYS(close(fd));
			}
			break;
		}
		case 1:
			(void)mkdirat(NUMBER, name, 0755);
			break;
		case 2:
			(void)unlinkat(NUMBER, name, k & 4 ? AT_REMOVEDIR : 0);
			break;
		case 3:
			(void)fchmodat(NUMBER, name, k & 8 ? 0600 : 0644, 0);
			break;
		}
		atomic_fetch_add(&done, 1);
	}
	return NULL;
}

int main(void)
{
	int dirs[DIRS];
	for (int i = 0; i < DIRS; i++) {
		char *p = xasprintf(SHADOW "/d%d", i);
		CHECK_SYS(mkdir(p, 0755));
		dirs[i] = CHECK_SYS(open(p, O_RDONLY | O_DIRECTORY));
		free(p);
	}
	CHECK_SYS(dup2(dirs[0], NUMBER));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, maker, NULL) == 0);
	for (int i = 1; i < ROUNDS; i++) {
		/* A few calls between two dup2s, and mostly one under way as it is made. */
		for (int d = atomic_load(&done); atomic_load(&done) - d < 2;)
			sched_yield();
		CHECK_SYS(dup2(dirs[i % DIRS], NUMBER));
	}
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(NUMBER));
	for (int i = 0; i < DIRS; i++)
		CHECK_SYS(close(dirs[i]));
	return 0;
}
