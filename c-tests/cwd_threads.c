// cwd_threads: one thread moves the cwd between two directories under the prefix while two
// others create, write and remove files by relative names. Each call lands wherever the cwd
// was when it started, as natively, but on both members alike: the members must stay
// identical (a member's walk from the kernel's cwd while the other's started from the
// directory the shim held would put the file in different directories).
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

#define FILES 4000

static atomic_int done;

static void *mover(void *arg)
{
	(void)arg;
	for (int i = 0; !atomic_load(&done); i++)
		CHECK_SYS(chdir(i % 2 ? SHADOW "/a" : SHADOW "/b"));
	return NULL;
}

static void *creator(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < FILES; i++) {
		char name[32];
		snprintf(name, sizeof name, "t%ld-%d", id, i);
		int fd = CHECK_SYS(open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644));
		CHECK_EQ(write(fd, name, strlen(name)), (ssize_t)strlen(name));
		CHECK_SYS(close(fd));
		if (i % 3 == 0 && unlink(name) != 0 && errno != ENOENT)
			check_fail(HERE, errno, "unlink %s", name);
		if (i % 5 == 0 && mkdir(name, 0755) != 0 && errno != EEXIST)
			check_fail(HERE, errno, "mkdir %s", name);
	}
	return NULL;
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/a", 0755));
	CHECK_SYS(mkdir(SHADOW "/b", 0755));
	CHECK_SYS(chdir(SHADOW "/a"));
	pthread_t m, c1, c2;
	CHECK(pthread_create(&m, NULL, mover, NULL) == 0);
	CHECK(pthread_create(&c1, NULL, creator, (void *)1L) == 0);
	CHECK(pthread_create(&c2, NULL, creator, (void *)2L) == 0);
	pthread_join(c1, NULL);
	pthread_join(c2, NULL);
	atomic_store(&done, 1);
	pthread_join(m, NULL);
	return 0;
}
