// fork_under_threads: 4 threads keep writing shadowed files while the main thread forks
// 50 times; every child writes through an inherited fd and a fresh open, then exits. No
// child may hang on a lock another thread held at the moment of fork.
// timeout: 60
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;

static void *writer(void *arg)
{
	long id = (long)arg;
	char *path = xasprintf(SHADOW "/thread-%ld", id);
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_APPEND, 0644));
	long n = 0;
	while (!atomic_load(&stop)) {
		char *line = xasprintf("t%ld-%06ld\n", id, n++);
		write_str(fd, line);
		free(line);
	}
	CHECK_SYS(close(fd));
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	int shared = CHECK_SYS(open(SHADOW "/children", O_WRONLY | O_CREAT | O_APPEND, 0644));
	for (long i = 0; i < 4; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < 50; i++) {
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0) {
			char *line = xasprintf("child %02d\n", i);
			write_str(shared, line);
			char *own = xasprintf(SHADOW "/child-%02d", i);
			int fd = CHECK_SYS(open(own, O_WRONLY | O_CREAT | O_TRUNC, 0644));
			write_str(fd, line);
			CHECK_SYS(close(fd));
			_exit(0);
		}
		wait_ok(pid);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	CHECK_SYS(close(shared));
	size_t len;
	char *all = read_whole_file(SHADOW "/children", &len);
	CHECK_EQ(len, 50 * strlen("child 00\n"));
	free(all);
	return 0;
}
