// unshare_fs: a thread that takes a working directory of its own (unshare(CLONE_FS)) and
// changes it. The shim follows one working directory per process: before, the thread's
// chdir moved it, and the main thread's relative open made its file in the thread's
// directory on both members, where the kernel would not have put it. Now that unshare is
// refused (ENOSYS, 00120) in a process with threads, and the working directory stays
// shared, as the shim follows it. So is a thread's own fd table (unshare(CLONE_FILES),
// close_range with CLOSE_RANGE_UNSHARE): the shim follows one. A single-threaded
// process's unshare is the kernel's.
// expect-history: 00120 .*unshare
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <linux/close_range.h>
#include <sched.h>

static pthread_barrier_t moved;

static void *own_cwd(void *arg)
{
	(void)arg;
	CHECK_ERR(unshare(CLONE_FS), ENOSYS);
	CHECK_ERR(unshare(CLONE_FILES), ENOSYS);
	CHECK_ERR(close_range(100, 200, CLOSE_RANGE_UNSHARE), ENOSYS);
	CHECK_SYS(chdir(SHADOW "/sub"));
	pthread_barrier_wait(&moved);
	return NULL;
}

int main(void)
{
	/* Alone in the process: the kernel's. */
	CHECK_SYS(unshare(CLONE_FS | CLONE_FILES));

	CHECK_SYS(mkdir(SHADOW "/sub", 0755));
	CHECK_SYS(chdir(SHADOW));
	pthread_barrier_init(&moved, NULL, 2);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, own_cwd, NULL) == 0);
	pthread_barrier_wait(&moved);
	CHECK(pthread_join(t, NULL) == 0);

	/* One working directory for the process, as the kernel and the shim both see it. */
	int fd = CHECK_SYS(open("by_main", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "relative to the process's working directory\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/sub/by_main", "relative to the process's working directory\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/sub/by_main");
	return 0;
}
