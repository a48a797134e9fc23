// spawn_opens_beside_fork: two threads posix_spawn /bin/true with a file action that opens
// (creates) a file under the prefix, while a third thread forks children that leave at
// once. A spawn takes the names its creating opens change under its hook's hold on the
// fork lock, as every hook does; before (helper-49), it took them first: waiting for its
// hold behind a fork, which waited for the other spawn's hook, which waited for one of
// those names, all three hung (about 1 run in 3 of this test; the timeout catches it).
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static void *spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		posix_spawn_file_actions_t fa;
		CHECK(posix_spawn_file_actions_init(&fa) == 0);
		CHECK(posix_spawn_file_actions_addopen(&fa, 1, SHADOW "/log", O_CREAT | O_WRONLY | O_APPEND, 0644) == 0);
		char *argv[] = { "true", NULL };
		pid_t pid;
		CHECK(posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ) == 0);
		CHECK_SYS(waitpid(pid, NULL, 0));
		posix_spawn_file_actions_destroy(&fa);
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0)
			_exit(0);
		CHECK_SYS(waitpid(pid, NULL, 0));
	}
	return NULL;
}

int main(void)
{
	pthread_t t[3];
	CHECK(pthread_create(&t[0], NULL, spawner, NULL) == 0);
	CHECK(pthread_create(&t[1], NULL, spawner, NULL) == 0);
	CHECK(pthread_create(&t[2], NULL, forker, NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	EXPECT_SAME_ON_MEMBERS(SHADOW "/log");
	return 0;
}
