// splice_wait: splice(2) from a pipe into a shadowed file waits for the pipe's writer.
// Before, the shim made that wait inside itself, holding its fork lock and the file's
// order: a fork in another thread waited with it (for ever when the pipe's writer was to
// be that fork's child), and so did another process's write to the same file. Now the
// wait is made outside the shim, exactly as the splice would make it: a signal handler
// without SA_RESTART ends it with EINTR, one with SA_RESTART does not; a cancellation
// request ends the thread; SPLICE_F_NONBLOCK answers EAGAIN; a pipe without writers, 0.
// And what the kernel answers without waiting (nothing to move, an input offset, an output
// it cannot splice into) is answered at once, as natively.
// timeout: 60
#define _GNU_SOURCE
#include "check.h"

#include <signal.h>

static int pipefd[2], out;

static void *splicer(void *arg)
{
	(void)arg;
	ssize_t n = splice(pipefd[0], NULL, out, NULL, 4096, 0);
	return (void *)n;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void alarm_handler(int flags)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
}

int main(void)
{
	pthread_t t;
	void *got;

	CHECK_SYS(pipe(pipefd));
	out = CHECK_SYS(open(SHADOW "/spliced", O_WRONLY | O_CREAT | O_TRUNC, 0644));

	/* What the kernel answers at once, with the pipe empty, is answered at once. */
	CHECK_EQ(splice(pipefd[0], NULL, out, NULL, 0, 0), 0);
	off64_t at = 0;
	CHECK_ERR(splice(pipefd[0], &at, out, NULL, 16, 0), ESPIPE);
	int appending = CHECK_SYS(open(SHADOW "/appended", O_WRONLY | O_CREAT | O_APPEND, 0644));
	CHECK_ERR(splice(pipefd[0], NULL, appending, NULL, 16, 0), EINVAL);
	int reading = CHECK_SYS(open(SHADOW "/appended", O_RDONLY));
	CHECK_ERR(splice(pipefd[0], NULL, reading, NULL, 16, 0), EBADF);
	CHECK_SYS(close(appending));
	CHECK_SYS(close(reading));

	/* A fork while a thread waits: its child is the writer. */
	CHECK(pthread_create(&t, NULL, splicer, NULL) == 0);
	usleep(50 * 1000);
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_str(pipefd[1], "from the forked child\n");
		_exit(0);
	}
	wait_ok(pid);
	CHECK(pthread_join(t, &got) == 0);
	CHECK_EQ((long)got, 22L);

	/* Another process writes the same file while this one waits: it is not held. */
	CHECK(pthread_create(&t, NULL, splicer, NULL) == 0);
	usleep(50 * 1000);
	system_ok("printf 'from a shell\\n' | dd of=" SHADOW "/spliced bs=1 seek=200 conv=notrunc status=none");
	write_str(pipefd[1], "after the shell\n");
	CHECK(pthread_join(t, &got) == 0);
	CHECK_EQ((long)got, 16L);

	/* Signals: without SA_RESTART the wait ends with EINTR; with it, it goes on. */
	alarm_handler(0);
	alarm(1);
	CHECK_ERR(splice(pipefd[0], NULL, out, NULL, 4096, 0), EINTR);
	alarm_handler(SA_RESTART);
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		usleep(1500 * 1000);
		write_str(pipefd[1], "after the alarm\n");
		_exit(0);
	}
	alarm(1);
	CHECK_EQ(splice(pipefd[0], NULL, out, NULL, 4096, 0), 16);
	wait_ok(pid);

	/* A cancellation request ends a thread waiting in it. */
	CHECK(pthread_create(&t, NULL, splicer, NULL) == 0);
	usleep(50 * 1000);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &got) == 0);
	CHECK(got == PTHREAD_CANCELED);

	/* No waiting asked for, none made. */
	CHECK_ERR(splice(pipefd[0], NULL, out, NULL, 4096, SPLICE_F_NONBLOCK), EAGAIN);
	CHECK_SYS(close(pipefd[1]));
	CHECK_EQ(splice(pipefd[0], NULL, out, NULL, 4096, 0), 0);

	CHECK_SYS(close(out));
	char want[213] = "from the forked child\nafter the shell\nafter the alarm\n";
	memcpy(want + 200, "from a shell\n", 13);
	EXPECT_FILE_BYTES(SHADOW "/spliced", want, sizeof want);
	EXPECT_SAME_ON_MEMBERS(SHADOW "/spliced");
	return 0;
}
