// fifo_waiting_opens: a writer waiting in its open of a FIFO under the prefix (no reader
// yet) must not hold up a reader that opens the FIFO O_RDWR (the "never see EOF" daemon
// idiom) or a process removing it, as it would if it held the FIFO's name (the shim's
// names.rs): natively both return at once.
// timeout: 30
#include "check.h"
#include <signal.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs fn in a child; returns 1 if it finished within secs. */
static int finishes(void (*fn)(void), double secs)
{
	pid_t p = CHECK_SYS(fork());
	if (p == 0) {
		fn();
		_exit(0);
	}
	double start = now();
	while (now() - start < secs) {
		int st;
		if (waitpid(p, &st, WNOHANG) == p)
			return 1;
		usleep(10000);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return 0;
}

static void reader_rdwr(void)
{
	int fd = open(SHADOW "/fifo", O_RDWR);
	if (fd < 0)
		_exit(2);
	close(fd);
}

static void remover(void)
{
	if (unlink(SHADOW "/fifo2") != 0)
		_exit(2);
}

int main(void)
{
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0644));
	CHECK_SYS(mkfifo(SHADOW "/fifo2", 0644));
	pid_t w = CHECK_SYS(fork());
	if (w == 0) {
		int fd = open(SHADOW "/fifo", O_WRONLY); /* blocks until a reader comes */
		_exit(fd < 0);
	}
	pid_t w2 = CHECK_SYS(fork());
	if (w2 == 0) {
		int fd = open(SHADOW "/fifo2", O_WRONLY); /* blocks for ever: nobody reads */
		_exit(fd < 0);
	}
	usleep(300000);
	int a = finishes(reader_rdwr, 5);
	printf("open(fifo, O_RDWR) while a writer waits: %s\n", a ? "returned" : "HUNG 5 s (deadlock)");
	int b = finishes(remover, 5);
	printf("unlink(fifo2) while a writer waits: %s\n", b ? "returned" : "HUNG 5 s");
	kill(w, SIGKILL);
	kill(w2, SIGKILL);
	waitpid(w, NULL, 0);
	waitpid(w2, NULL, 0);
	unlink(SHADOW "/fifo");
	unlink(SHADOW "/fifo2");
	CHECK(a);
	CHECK(b);
	return 0;
}
