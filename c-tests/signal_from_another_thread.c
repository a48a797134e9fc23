// signal_from_another_thread: a signal one thread sends another with pthread_kill while the
// other is inside the shim (creating and writing a file under the prefix) waits, as one
// from another process does, until that thread leaves the shim: its handler's own calls
// are mirrored. The kernel names the sending process, not the thread, and before
// (helper-49) every pthread_kill from another thread was taken for one the thread sent
// itself and run at once, inside the hook: the handler's opens under the prefix failed
// ENOENT (about 99 in 100), a handler leaving by siglongjmp left the thread inside the
// shim holding the fork lock, so its later writes reached the primary alone and the next
// fork hung, and one leaving by pthread_exit aborted the process ("exception not
// rethrown").
// timeout: 60
#include "check.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static atomic_int stop, handled, failed;
static _Thread_local sigjmp_buf back;
static _Thread_local volatile sig_atomic_t armed;
static volatile int leave; /* 0: return, 1: siglongjmp, 2: pthread_exit */

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	int fd = open(SHADOW "/handler-log", O_CREAT | O_WRONLY | O_APPEND, 0644);
	if (fd < 0 || write(fd, "h\n", 2) != 2)
		atomic_fetch_add(&failed, 1);
	if (fd >= 0)
		close(fd);
	atomic_fetch_add(&handled, 1);
	errno = saved;
	if (leave == 1 && armed) {
		armed = 0;
		siglongjmp(back, 1);
	}
	if (leave == 2)
		pthread_exit(NULL);
}

static void *writer(void *arg)
{
	(void)arg;
	char buf[512];
	memset(buf, 'w', sizeof buf);
	sigsetjmp(back, 1);
	while (!atomic_load(&stop)) {
		armed = 1;
		int fd = CHECK_SYS(open(SHADOW "/written", O_CREAT | O_WRONLY | O_TRUNC, 0644));
		for (int i = 0; i < 20; i++)
			CHECK_EQ(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
		armed = 0;
		CHECK_SYS(close(fd));
	}
	return NULL;
}

/* Signals a writer `times` times, its handler leaving as `how` says. */
static void signal_writer(int how, int times)
{
	pthread_t t;
	leave = how;
	atomic_store(&stop, 0);
	atomic_store(&handled, 0);
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	for (int i = 0; i < times && (how != 2 || atomic_load(&handled) == 0); i++) {
		if (pthread_kill(t, SIGUSR1) != 0)
			break;
		usleep(300);
	}
	while (atomic_load(&handled) == 0)
		usleep(1000);
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ(atomic_load(&failed), 0);
}

int main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));

	signal_writer(0, 500);
	signal_writer(1, 300);
	signal_writer(2, 1);

	/* No hold on the fork lock was left behind, and this thread's hooks are mirrored. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0)
		_exit(0);
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	write_file(SHADOW "/after", "after\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/after");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/written");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/handler-log");
	return 0;
}
