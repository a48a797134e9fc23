// byte_races: processes that each open one file for themselves (no shared description)
// and write the same bytes of it at once, with no locking of their own: pwrite over one
// block, writes at the position over another, appends, and a truncation by path, by an
// O_TRUNC open or by a spawn's O_TRUNC file action while the others write. Natively every
// byte ends as one of them left it; both members must end the same way (before, a write
// that reached the lead first could reach the follower last, and the members kept
// different winners with nobody told).
// Under write-behind, a process's queued follower writes come before another's change
// to the same file. Members compared by run.sh.
// timeout: 180
#include "check.h"
#include <spawn.h>

#define WORKERS 3
#define ROUNDS 1500
#define BLOCK 4096

static pthread_barrier_t *together;

/* Truncates `name` by path, by an O_TRUNC open, or by a spawned child's O_TRUNC open (a
 * posix_spawn file action, which the shim makes on the follower before the spawn). */
static void empty(const char *name, int how)
{
	if (how == 0) {
		CHECK_SYS(truncate(name, BLOCK / 3));
	} else if (how == 1) {
		CHECK_SYS(close(CHECK_SYS(open(name, O_WRONLY | O_TRUNC))));
	} else {
		posix_spawn_file_actions_t fa;
		CHECK(posix_spawn_file_actions_init(&fa) == 0);
		CHECK(posix_spawn_file_actions_addopen(&fa, 1, name, O_WRONLY | O_TRUNC, 0) == 0);
		char *argv[] = { "true", NULL };
		pid_t pid;
		CHECK(posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ) == 0);
		wait_ok(pid);
		CHECK(posix_spawn_file_actions_destroy(&fa) == 0);
	}
}

static void worker(int id)
{
	char block[BLOCK], line[32];
	memset(block, 'a' + id, sizeof block);
	snprintf(line, sizeof line, "worker %d\n", id);
	for (int i = 0; i < ROUNDS; i++) {
		char name[32];
		snprintf(name, sizeof name, "f-%d", i % 50);
		int fd = CHECK_SYS(open(name, O_WRONLY | O_CREAT, 0644));
		int log = CHECK_SYS(open("log", O_WRONLY | O_CREAT | O_APPEND, 0644));
		pthread_barrier_wait(together);
		CHECK_EQ(pwrite(fd, block, sizeof block, 0), (ssize_t)sizeof block);
		CHECK_SYS(lseek(fd, BLOCK / 2, SEEK_SET));
		write_all(fd, block, sizeof block);
		write_all(log, line, strlen(line));
		if (i % 7 == id)
			empty(name, i % 3);
		CHECK_EQ(pwrite(fd, block, BLOCK / 4, BLOCK + BLOCK / 8), (ssize_t)(BLOCK / 4));
		CHECK_SYS(close(fd));
		CHECK_SYS(close(log));
	}
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	run_workers(WORKERS, worker, &together);
	return 0;
}
