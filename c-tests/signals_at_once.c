// signals_at_once: the signals whose handlers must not wait for the thread to leave the
// shim (see signals_deferred for those that do), each as natively:
// - a blocking open of a FIFO outside the prefix, during which an alarm's
//   handler (installed by signal(): SA_RESTART) must run: only then does another thread
//   open the FIFO's other end;
// - a handler declared with three arguments, installed without SA_SIGINFO, reads the
//   ucontext the kernel passes;
// - sigaction's old action is what the kernel kept (unknown flags and SIGKILL dropped);
// - raise() and abort() from program code the shim calls (a stdio cookie flushed at exit):
//   their handlers run before the call returns (the test's exit status comes from the
//   SIGABRT handler).
// timeout: 60
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

static volatile sig_atomic_t rang;

static void on_alarm(int sig)
{
	(void)sig;
	rang = 1;
}

/* Opens the FIFO for writing (which ends the reader's open) once the alarm's handler ran. */
static void *writer(void *name)
{
	sigset_t alarm_set;
	sigemptyset(&alarm_set);
	sigaddset(&alarm_set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alarm_set, NULL);
	while (!rang)
		usleep(1000);
	int fd = CHECK_SYS(open(name, O_WRONLY));
	CHECK_SYS(close(fd));
	return NULL;
}

static void fifo_open_ended_by_alarm(const char *name)
{
	CHECK_SYS(mkfifo(name, 0600));
	CHECK(signal(SIGALRM, on_alarm) != SIG_ERR);
	rang = 0;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, (void *)name) == 0);
	alarm(1);
	int fd = CHECK_SYS(open(name, O_RDONLY)); /* no writer until the handler ran */
	CHECK(rang);
	CHECK_SYS(close(fd));
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(unlink(name));
}

static void *volatile seen_uc;
static volatile long seen_rip;

static void three(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	seen_uc = uc;
	seen_rip = (long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
}

static void three_arguments_without_siginfo(void)
{
	struct sigaction sa = { .sa_handler = (void (*)(int))(void (*)(void))three };
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	CHECK_SYS(raise(SIGUSR2));
	int local;
	long distance = (long)seen_uc - (long)&local;
	CHECK(distance > -65536 && distance < 65536);
	CHECK(seen_rip != 0);
}

static volatile sig_atomic_t raised;

static void on_usr1(int sig)
{
	(void)sig;
	raised = 1;
}

static void old_action_as_the_kernel_kept_it(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART | 0x400 /* SA_UNSUPPORTED */ }, old;
	sigaddset(&sa.sa_mask, SIGKILL);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK_SYS(sigaction(SIGURG, &sa, NULL));
	CHECK_SYS(sigaction(SIGURG, NULL, &old));
	CHECK(old.sa_handler == on_usr1);
	CHECK(!(old.sa_flags & 0x400));
	CHECK(old.sa_flags & SA_RESTART);
	CHECK(!sigismember(&old.sa_mask, SIGKILL));
	CHECK(sigismember(&old.sa_mask, SIGUSR2));
}

static void on_abort(int sig)
{
	(void)sig;
	_exit(0);
}

static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
	(void)c;
	(void)buf;
	(void)n;
	raise(SIGUSR1);
	if (!raised) {
		static const char m[] = "raise() returned before its handler ran\n";
		write(2, m, sizeof m - 1);
		_exit(3);
	}
	abort();
}

int main(void)
{
	fifo_open_ended_by_alarm(xasprintf("%s/fifo", test_tmp()));
	three_arguments_without_siginfo();
	old_action_as_the_kernel_kept_it();

	CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
	CHECK(signal(SIGABRT, on_abort) != SIG_ERR);
	cookie_io_functions_t io = { .write = cookie_write };
	FILE *s = CHECK_PTR(fopencookie(NULL, "w", io));
	setvbuf(s, NULL, _IOFBF, 4096);
	fputs("flushed at exit\n", s);
	return 4; /* replaced by the SIGABRT handler's 0 if the flush at exit reaches it */
}
