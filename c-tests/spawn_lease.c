// spawn_lease: a spawn whose file action empties a file under the prefix (O_TRUNC), while
// another process holds a lease on the follower's file. The shim empties the follower's
// file before the child opens the lead's; that open does not wait (a FIFO there would wait
// for ever), and a lease answers it EWOULDBLOCK: it is then made as asked, which waits for
// the lease holder to let go, as the child's open would. Else the follower's file kept its
// old bytes past the new end (members different).
// timeout: 60
#define _GNU_SOURCE
#include "check.h"

#include <signal.h>
#include <spawn.h>

extern char **environ;

static int leased = -1;

static void let_go(int sig)
{
	(void)sig;
	fcntl(leased, F_SETLEASE, F_UNLCK);
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/leased", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "a long first version of the file, longer than the second\n");
	CHECK_SYS(close(fd));

	int ready[2];
	CHECK_SYS(pipe(ready));
	pid_t holder = CHECK_SYS(fork());
	if (holder == 0) {
		/* Another process with a read lease on the follower's file. */
		signal(SIGIO, let_go);
		leased = CHECK_SYS(open(member_path("secondary", SHADOW "/leased"), O_RDONLY));
		CHECK_SYS(fcntl(leased, F_SETLEASE, F_RDLCK));
		write_str(ready[1], "r");
		for (int i = 0; i < 200 && fcntl(leased, F_GETLEASE) != F_UNLCK; i++)
			usleep(50 * 1000);
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);

	posix_spawn_file_actions_t fa;
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 1, SHADOW "/leased", O_WRONLY | O_TRUNC, 0644), 0);
	char *echo[] = { "/bin/echo", "second", NULL };
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, echo[0], &fa, NULL, echo, environ), 0);
	wait_ok(pid);
	wait_ok(holder);
	EXPECT_FILE(SHADOW "/leased", "second\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/leased");
	return 0;
}
