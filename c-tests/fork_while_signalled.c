// fork_while_signalled: a signal handler that writes to a mirrored file while its thread is
// forking (between the shim's fork handlers, which hold the fork lock for writing; glibc
// runs them with signals open). The handler's write must not wait for the lock its own
// thread holds (that hung): between the handlers it is mirrored without the lock; inside
// them it passes straight through, as from any hook a handler interrupts. The handler
// rewrites the file's one byte, so a write passed through leaves the members alike.
// timeout: 120
#include "check.h"
#include <signal.h>
#include <sys/time.h>

static int log_fd = -1;
static volatile sig_atomic_t written;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	if (pwrite(log_fd, "h", 1, 0) == 1)
		written++;
	errno = saved;
}

int main(void)
{
	log_fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(write(log_fd, "h", 1), 1);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	struct itimerval every = { { 0, 50 }, { 0, 50 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &every, NULL));
	for (int i = 0; i < 400; i++) {
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0)
			_exit(0);
		int status;
		while (waitpid(pid, &status, 0) < 0)
			CHECK(errno == EINTR);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
	CHECK(written > 0);
	CHECK_SYS(close(log_fd));
	struct stat st = stat_at(HERE, SHADOW "/log");
	CHECK_EQ(st.st_size, 1);
	printf("%d handler writes\n", (int)written);
	return 0;
}
