// lock_wait_fork: a thread waiting for a record lock on a shadowed file (F_SETLKW,
// F_OFD_SETLKW) must not hold up another thread's fork: here the lock is given up only
// after the fork (a fork that waited for the lock wait hung for ever). Then the waiter
// takes the lock and writes, mirrored.
// timeout: 60
#include "check.h"
#include <pthread.h>

static int fd = -1;
static int lock_cmd;
static volatile int locked;

static void *waiter(void *arg)
{
	(void)arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK_SYS(fcntl(fd, lock_cmd, &fl));
	locked = 1;
	CHECK_EQ(pwrite(fd, "w", 1, 0), 1);
	return NULL;
}

static void round_with(int cmd)
{
	lock_cmd = cmd;
	locked = 0;
	fd = CHECK_SYS(open(SHADOW "/f", O_RDWR | O_CREAT | O_TRUNC, 0644));
	int go[2], held[2];
	CHECK_SYS(pipe(go));
	CHECK_SYS(pipe(held));
	pid_t holder = CHECK_SYS(fork());
	if (holder == 0) {
		int hfd = CHECK_SYS(open(SHADOW "/f", O_RDWR));
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		CHECK_SYS(fcntl(hfd, F_SETLK, &fl));
		CHECK_EQ(write(held[1], "h", 1), 1);
		char c;
		CHECK_EQ(read(go[0], &c, 1), 1);
		_exit(0);
	}
	char c;
	CHECK_EQ(read(held[0], &c, 1), 1);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	usleep(100 * 1000);
	CHECK(!locked);
	pid_t child = CHECK_SYS(fork());
	if (child == 0)
		_exit(0);
	wait_ok(child);
	CHECK_EQ(write(go[1], "g", 1), 1);
	wait_ok(holder);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(locked);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/f", "w");
	close(go[0]);
	close(go[1]);
	close(held[0]);
	close(held[1]);
}

int main(void)
{
	round_with(F_SETLKW);
	round_with(F_OFD_SETLKW);
	return 0;
}
