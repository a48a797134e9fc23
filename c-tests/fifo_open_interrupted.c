// fifo_open_interrupted: a program opens a FIFO under the prefix for writing, with no
// reader, and an alarm whose handler (installed by signal(3), so SA_RESTART) leaves the
// open by siglongjmp. Natively the handler runs while the open waits; before, the shim
// made the open inside itself, where a handler is deferred until the hook returns, the
// kernel restarted the open, and it waited for ever. An open that may wait
// (a FIFO, a device) is now made outside the shim. (A read-only open of a FIFO still
// waits inside: telling a FIFO from a file would cost every read-only open a stat;
// README.)
// timeout: 30
#include "check.h"
#include <setjmp.h>
#include <signal.h>

static sigjmp_buf timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(timed_out, 1);
}

int main(void)
{
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0644));
	/* signal(3): BSD semantics, SA_RESTART: the open would go on waiting after the
	 * handler; the handler leaves it by siglongjmp (the classic timeout). */
	CHECK(signal(SIGALRM, on_alarm) != SIG_ERR);
	int flags[] = { O_WRONLY, O_WRONLY | O_CREAT, O_WRONLY | O_TRUNC };
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (sigsetjmp(timed_out, 1) == 0) {
			alarm(1);
			int fd = open(SHADOW "/fifo", flags[i], 0644);
			check_fail(HERE, errno, "open of a FIFO without a reader returned %d", fd);
		}
	}
	alarm(0);
	/* With a reader, the open goes through, and the FIFO carries the bytes (which stamp
	 * the lead's FIFO alone with a new mtime: verify leaves FIFOs' mtimes alone). */
	pid_t reader = CHECK_SYS(fork());
	if (reader == 0) {
		int fd = CHECK_SYS(open(SHADOW "/fifo", O_RDONLY));
		char buf[16] = { 0 };
		CHECK_EQ(read(fd, buf, sizeof buf), 6);
		CHECK(memcmp(buf, "hello\n", 6) == 0);
		_exit(0);
	}
	int fd = CHECK_SYS(open(SHADOW "/fifo", O_WRONLY));
	usleep(20000);
	write_all(fd, "hello\n", 6);
	CHECK_SYS(close(fd));
	wait_ok(reader);
	return 0;
}
