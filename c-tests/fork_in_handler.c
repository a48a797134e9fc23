// fork_in_handler: a signal handler that forks while its thread is inside the shim (here:
// waiting for the secondary's flush on the shim's flushing thread). Neither the parent nor
// the child may hang: the parent's fork must not wait for the lock its own thread holds,
// and the child, whose copy of the interrupted flush goes on waiting for its job, must get
// that job done although the flushing thread is not in the child, and then fork a child of
// its own. Both members end with every record (run.sh compares them).
#include "check.h"
#include <signal.h>
#include <sys/time.h>

#define FORKS 16

/* Bytes per record (fork_in_handler_behind.c makes them large). */
#ifndef RECORD_BYTES
#define RECORD_BYTES 7
#endif
static char record[RECORD_BYTES];

static volatile sig_atomic_t in_child;
static volatile sig_atomic_t forks;
static volatile sig_atomic_t signals;
static pid_t children[FORKS];

static void on_alarm(int sig)
{
	(void)sig;
	/* Every third signal: the forks spread over many rounds. */
	if (in_child || forks >= FORKS || ++signals % 3 != 0)
		return;
	int saved = errno;
	pid_t pid = fork();
	if (pid == 0)
		in_child = 1;
	else if (pid > 0)
		children[forks++] = pid;
	errno = saved;
}

int main(void)
{
	memset(record, 'r', sizeof record);
	record[sizeof record - 1] = '\n';
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	/* Flushing often: the shim's flushing thread runs from here on. */
	for (int i = 0; i < 3; i++) {
		CHECK(write(fd, record, sizeof record) == (ssize_t)sizeof record);
		CHECK_SYS(fdatasync(fd));
	}
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	struct itimerval every = { { 0, 200 }, { 0, 200 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &every, NULL));
	int rounds = 0;
	for (int i = 0; i < 4000 && forks < FORKS; i++, rounds++) {
		CHECK(write(fd, record, sizeof record) == (ssize_t)sizeof record);
		CHECK_SYS(fdatasync(fd));
		if (in_child) {
			/* Its interrupted fdatasync came back. The child's fork lock is whole: a
			 * fork of its own neither hangs nor leaves its child unable to write. */
			int status;
			pid_t grandchild = fork();
			if (grandchild == 0)
				_exit(write(fd, record, sizeof record) == (ssize_t)sizeof record ? 0 : 4);
			_exit(grandchild > 0 && waitpid(grandchild, &status, 0) == grandchild &&
			      WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3);
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
	CHECK(forks > 0);
	/* Each child must exit within 10 s. */
	for (int i = 0; i < forks; i++) {
		int status, waited = 0;
		while (waitpid(children[i], &status, WNOHANG) == 0) {
			if (++waited > 1000) {
				kill(children[i], SIGKILL);
				check_fail(HERE, 0, "child %d of %d hung (in its interrupted fdatasync or its own fork)", i + 1, (int)forks);
			}
			usleep(10000);
		}
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_SYS(close(fd));
	printf("%d rounds, %d forks\n", rounds, (int)forks);
	return 0;
}
