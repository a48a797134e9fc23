// signals_deferred: a signal handler that writes, creates and removes files under the
// prefix, called by a fast timer while the program's own thread is busy in mirrored calls
// (so most signals arrive while it is inside a hook). Every change the handler makes must
// reach both members: members compared by run.sh. Also checks that the program sees its
// own handlers as it installed them: sigaction's old action, signal()'s return value,
// SA_RESETHAND, SA_SIGINFO's value, SA_NODEFER, and EINTR from a call a handler interrupts.
// timeout: 120
#include "check.h"
#include <signal.h>
#include <sys/time.h>

static int log_fd = -1;
static volatile sig_atomic_t written, created;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	char rec[16];
	int n = snprintf(rec, sizeof rec, "h%07d\n", (int)written);
	if (write(log_fd, rec, (size_t)n) == n)
		written++;
	/* Relative: the cwd is in the prefix, so the kernel's cwd is the primary's. */
	char name[32];
	snprintf(name, sizeof name, "h-%d", (int)(created % 8));
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, rec, (size_t)n) == n)
			created++;
		close(fd);
	}
	if (created % 3 == 0)
		unlink(name);
	errno = saved;
}

static volatile sig_atomic_t once_count, info_value, nodefer_depth, nodefer_max;

static void once(int sig)
{
	(void)sig;
	once_count++;
}

static void with_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	info_value = si->si_value.sival_int;
}

static void nested(int sig)
{
	nodefer_depth++;
	if (nodefer_depth > nodefer_max)
		nodefer_max = nodefer_depth;
	if (nodefer_depth < 3)
		raise(sig);
	nodefer_depth--;
}

static void busy_in_hooks(int rounds)
{
	char block[4096];
	memset(block, 'm', sizeof block);
	int fd = CHECK_SYS(open("main", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (int i = 0; i < rounds; i++) {
		write_all(fd, block, sizeof block);
		if (i % 64 == 63) {
			CHECK_SYS(ftruncate(fd, 0));
			CHECK_SYS(lseek(fd, 0, SEEK_SET));
		}
		CHECK_SYS(rename("main", "main2"));
		CHECK_SYS(rename("main2", "main"));
	}
	CHECK_SYS(close(fd));
}

static void handlers_as_installed(void)
{
	struct sigaction sa = { .sa_handler = once, .sa_flags = SA_RESETHAND }, old;
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_handler == once);
	CHECK(old.sa_flags & SA_RESETHAND);
	CHECK(!(old.sa_flags & SA_SIGINFO));
	CHECK_SYS(raise(SIGUSR1));
	CHECK_EQ(once_count, 1);
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_handler == SIG_DFL);

	CHECK(signal(SIGUSR2, once) == SIG_DFL);
	CHECK(signal(SIGUSR2, SIG_IGN) == once);
	CHECK(signal(SIGUSR2, SIG_DFL) == SIG_IGN);

	struct sigaction si = { .sa_sigaction = with_info, .sa_flags = SA_SIGINFO };
	sigemptyset(&si.sa_mask);
	sigaddset(&si.sa_mask, SIGUSR2);
	CHECK_SYS(sigaction(SIGRTMIN, &si, NULL));
	CHECK_SYS(sigaction(SIGRTMIN, NULL, &old));
	CHECK(old.sa_sigaction == with_info);
	CHECK(sigismember(&old.sa_mask, SIGUSR2));
	CHECK_SYS(sigqueue(getpid(), SIGRTMIN, (union sigval){ .sival_int = 4242 }));
	CHECK_EQ(info_value, 4242);

	struct sigaction nd = { .sa_handler = nested, .sa_flags = SA_NODEFER };
	CHECK_SYS(sigaction(SIGUSR1, &nd, NULL));
	CHECK_SYS(raise(SIGUSR1));
	CHECK_EQ(nodefer_max, 3);

	/* Without SA_RESTART a blocking call a handler interrupts fails with EINTR. */
	struct sigaction plain = { .sa_handler = once };
	CHECK_SYS(sigaction(SIGALRM, &plain, NULL));
	int fds[2];
	CHECK_SYS(pipe(fds));
	alarm(1);
	char c;
	CHECK_ERR(read(fds[0], &c, 1), EINTR);
	CHECK_EQ(once_count, 2);
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	handlers_as_installed();

	log_fd = CHECK_SYS(open("log", O_WRONLY | O_CREAT | O_APPEND, 0644));
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	struct itimerval every = { { 0, 500 }, { 0, 500 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &every, NULL));
	busy_in_hooks(1500);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
	CHECK(written > 0);
	CHECK_SYS(close(log_fd));
	struct stat st = stat_at(HERE, SHADOW "/d/log");
	CHECK_EQ(st.st_size, 9 * (off_t)written);
	printf("%d handler writes, %d files written\n", (int)written, (int)created);
	return 0;
}
