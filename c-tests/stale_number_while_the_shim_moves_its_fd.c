// stale_number_while_the_shim_moves_its_fd: a thread closes, then dup2s onto, a number
// nothing of the program's holds, just as the shim has opened a follower's file there.
// The shim opens its own fds at the lowest free number (no call opens at a chosen one) and
// moves them up at once; lib/slow_move.c, preloaded after the shim, holds that move 100 ms
// and tells the thread the number. Natively the number is free: the close answers EBADF and
// the dup2 puts the thread's file there. Before, the close took the shim's fd away (the
// move failed and the follower's "fd" was a closed number), and the dup2 made /dev/null the
// follower's file: the secondary's file stayed empty, unreported.
#include "check.h"
#include "lib/slow_move.h"

static int tell[2];
static int closed, closed_errno, duped, devnull;

static void *stale_close(void *arg)
{
	int n;
	CHECK(read(tell[0], &n, sizeof n) == sizeof n);
	closed = close(n);
	closed_errno = errno;
	return arg;
}

static void *stale_dup2(void *arg)
{
	int n;
	CHECK(read(tell[0], &n, sizeof n) == sizeof n);
	duped = dup2(devnull, n) == n;
	return arg;
}

/* Opens `name` for writing with `thread` told the number of the shim's fd for its follower. */
static int open_with(void *(*thread)(void *), const char *name)
{
	void (*arm)(int, int) = (void (*)(int, int))slow_move_fn("slow_move_arm");
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread, NULL) == 0);
	int lowest = CHECK_SYS(dup(0));
	CHECK_SYS(close(lowest));
	/* The program's own fd takes the lowest number, the shim's follower the next. */
	arm(lowest + 1, tell[1]);
	int fd = CHECK_SYS(open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(fd, lowest);
	CHECK(pthread_join(t, NULL) == 0);
	return fd;
}

int main(int argc, char **argv)
{
	(void)argc;
	with_slow_move(argv);
	CHECK_SYS(pipe(tell));
	devnull = CHECK_SYS(open("/dev/null", O_WRONLY));

	int a = open_with(stale_close, SHADOW "/a");
	CHECK_EQ(closed, -1);
	CHECK_EQ(closed_errno, EBADF);
	write_str(a, "after a stale close\n");
	CHECK_SYS(close(a));
	EXPECT_FILE(SHADOW "/a", "after a stale close\n");

	int b = open_with(stale_dup2, SHADOW "/b");
	CHECK(duped);
	write_str(b, "after a dup2 onto the number\n");
	CHECK_SYS(close(b));
	EXPECT_FILE(SHADOW "/b", "after a dup2 onto the number\n");
	return 0;
}
