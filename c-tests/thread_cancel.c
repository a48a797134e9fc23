// thread_cancel: threads cancelled (pthread_cancel) while they work on shadowed files.
// glibc acts on a cancellation request inside its cancellable calls by unwinding the
// thread's stack. Before, a request acted upon inside a hook (the real write, fsync, open
// or close the shim makes for a shadowed file) unwound into the shim's catch_unwind, and
// glibc aborted the process: "FATAL: exception not rethrown". Now the shim holds
// cancellation off while it works, and its hooks of calls that are cancellation points in
// glibc act on a pending request at their start, as glibc's do: before anything is done.
// Every thread below ends cancelled, no write lands on one member alone, and the shim's
// locks are free afterwards (a fork and more writes go on).
// timeout: 60
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

static const char line[100] = "a line of a hundred bytes, written again and again by a thread about to be cancelled.......\n";

static void *writer(void *arg)
{
	int fd = CHECK_SYS(open(SHADOW "/written", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	(void)arg;
	for (;;)
		write_all(fd, line, sizeof line);
	return NULL;
}

static void *flusher(void *arg)
{
	int fd = CHECK_SYS(open(SHADOW "/flushed", O_WRONLY | O_CREAT | O_APPEND, 0644));
	(void)arg;
	for (;;) {
		write_all(fd, line, sizeof line);
		CHECK_SYS(fdatasync(fd));
	}
	return NULL;
}

static void *opener(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = CHECK_SYS(open(SHADOW "/reopened", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_all(fd, line, sizeof line);
		CHECK_SYS(close(fd));
	}
	return NULL;
}

static void *streamer(void *arg)
{
	FILE *f = fopen(SHADOW "/streamed", "w");
	CHECK(f != NULL);
	(void)arg;
	for (;;)
		CHECK(fputs(line, f) >= 0);
	return NULL;
}

/* Calls that wait (the shim makes them outside itself) are cancelled while they wait. (A
 * read-only open of a FIFO still waits inside the shim: README, "FIFOs".) */
static void *fifo_opener(void *arg)
{
	(void)arg;
	open(SHADOW "/fifo", O_WRONLY);
	check_fail(HERE, errno, "the open of a FIFO without a reader returned");
	return NULL;
}

static int locked_fd;

static void *lock_waiter(void *arg)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	(void)arg;
	fcntl(locked_fd, F_SETLKW, &whole);
	check_fail(HERE, errno, "a lock held by another process was granted");
	return NULL;
}

/* A request already pending when a cancellable call starts is acted upon before the call
 * does anything: the write below never happens, natively or shadowed. */
static void *pending(void *arg)
{
	int fd = *(int *)arg, old;
	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old) == 0);
	CHECK(pthread_cancel(pthread_self()) == 0);
	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old) == 0);
	write_str(fd, "written after the request: must not be\n");
	check_fail(HERE, 0, "a pending cancellation request was not acted upon at write");
	return NULL;
}

/* glibc's syscall(3) is no cancellation point: a raw write with a request pending writes
 * (before, the shim's write hook it was routed to acted upon the request). */
static void *pending_raw(void *arg)
{
	int fd = *(int *)arg, old;
	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old) == 0);
	CHECK(pthread_cancel(pthread_self()) == 0);
	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old) == 0);
	CHECK_EQ(syscall(SYS_write, fd, "raw write\n", 10), 10);
	pthread_testcancel();
	check_fail(HERE, 0, "a pending cancellation request was not acted upon at pthread_testcancel");
	return NULL;
}

static void cancel_while_busy(void *(*body)(void *), const char *what)
{
	pthread_t t;
	void *result;
	CHECK(pthread_create(&t, NULL, body, NULL) == 0);
	usleep(50 * 1000);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &result) == 0);
	if (result != PTHREAD_CANCELED)
		check_fail(HERE, 0, "the %s thread was not cancelled", what);
}

int main(void)
{
	cancel_while_busy(writer, "writing");
	cancel_while_busy(flusher, "flushing");
	cancel_while_busy(opener, "opening");
	cancel_while_busy(streamer, "stdio");

	CHECK_SYS(mkfifo(SHADOW "/fifo", 0644));
	cancel_while_busy(fifo_opener, "FIFO-opening");
	locked_fd = CHECK_SYS(open(SHADOW "/locked", O_RDWR | O_CREAT, 0644));
	int held[2];
	CHECK_SYS(pipe(held));
	pid_t holder = CHECK_SYS(fork());
	if (holder == 0) {
		struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		CHECK_SYS(fcntl(locked_fd, F_SETLK, &whole));
		write_str(held[1], "l");
		pause();
		_exit(0);
	}
	char c;
	CHECK(read(held[0], &c, 1) == 1);
	cancel_while_busy(lock_waiter, "lock-waiting");
	CHECK_SYS(kill(holder, SIGKILL));
	CHECK_SYS(waitpid(holder, NULL, 0));
	CHECK_SYS(close(locked_fd));

	int fd = CHECK_SYS(open(SHADOW "/pending", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	pthread_t t;
	void *result;
	CHECK(pthread_create(&t, NULL, pending, &fd) == 0);
	CHECK(pthread_join(t, &result) == 0);
	CHECK(result == PTHREAD_CANCELED);
	CHECK_EQ(file_size(SHADOW "/pending"), 0);
	CHECK(pthread_create(&t, NULL, pending_raw, &fd) == 0);
	CHECK(pthread_join(t, &result) == 0);
	CHECK(result == PTHREAD_CANCELED);

	// The shim's locks are free: a fork and more writes go through.
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_str(fd, "from the child\n");
		_exit(0);
	}
	wait_ok(pid);
	write_str(fd, "from the parent\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/pending", "raw write\nfrom the child\nfrom the parent\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/written");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/flushed");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/reopened");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/streamed");
	return 0;
}
