// core_signals: the signals that dump core, whose default action the shim holds with a
// handler of its own (to mark the directory a core file lands in, see tests/journal.rs),
// look and act as natively:
// - sigaction's answer for each, at start and after a handler and SIG_DFL were set, is
//   exactly the one for SIGUSR1 (whose default action the shim leaves to the kernel) after
//   the same calls: handler, flags, mask and restorer;
// - signal() and sigaction() return SIG_DFL as the previous action;
// - a child that dies of each (raised, sent by another process, a fault, abort, a handler
//   with SA_RESETHAND that raises again, one sent while it waits in sigsuspend with the
//   signal blocked, an abort on a small alternate stack) is seen by its parent to die of
//   that signal, with
//   a core where RLIMIT_CORE allows one and none where it does not; the cwd is outside
//   the prefix, so nothing is marked in flight.
// timeout: 60
#include "check.h"
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>

static const int dumps_core[] = { SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS };
#define N (sizeof dumps_core / sizeof dumps_core[0])

static struct sigaction now(int sig)
{
	struct sigaction a;
	memset(&a, 0, sizeof a);
	CHECK_SYS(sigaction(sig, NULL, &a));
	return a;
}

/* The kernel's 64 signals: glibc fills the rest of a sigset_t from its stack. */
static int same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return 0;
	return 1;
}

static void same_action(int sig, const struct sigaction *want, const char *when)
{
	struct sigaction got = now(sig);
	if (got.sa_handler != want->sa_handler || got.sa_flags != want->sa_flags ||
	    !same_mask(&got.sa_mask, &want->sa_mask) || got.sa_restorer != want->sa_restorer)
		check_fail(HERE, 0, "%s: signal %d: handler %p flags %#x restorer %p; SIGUSR1's: %p %#x %p", when, sig,
			   (void *)got.sa_handler, got.sa_flags, (void *)got.sa_restorer, (void *)want->sa_handler,
			   want->sa_flags, (void *)want->sa_restorer);
}

static void on_signal(int sig)
{
	(void)sig;
}

static void reraise(int sig)
{
	raise(sig);
}

/* A handler of the program's on a small alternate stack, as Rust's for a stack overflow:
 * it aborts there. */
static void abort_on_alternate_stack(int sig)
{
	(void)sig;
	abort();
}

enum how { RAISED, SENT, SENT_IN_SIGSUSPEND, FAULT, ABORTED, RESET_AND_RAISED, FAULT_THEN_ABORT_ON_ALTSTACK };

/* A child dies of `sig` as `how` says, with RLIMIT_CORE at `limit`; its status. */
static int child_dies(int sig, enum how how, rlim_t limit)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		struct rlimit rl = { limit, RLIM_INFINITY };
		CHECK_SYS(setrlimit(RLIMIT_CORE, &rl));
		switch (how) {
		case RAISED:
			raise(sig);
			break;
		case SENT:
			pause();
			break;
		case SENT_IN_SIGSUSPEND: {
			/* Blocked but while sigsuspend waits: the mask the shim's handler returns
			 * to blocks it again. */
			sigset_t block, none;
			sigemptyset(&block);
			sigaddset(&block, sig);
			sigemptyset(&none);
			CHECK_SYS(sigprocmask(SIG_BLOCK, &block, NULL));
			sigsuspend(&none);
			_exit(7);
		}
		case FAULT_THEN_ABORT_ON_ALTSTACK: {
			static char stack[8192];
			stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack };
			CHECK_SYS(sigaltstack(&ss, NULL));
			struct sigaction a;
			memset(&a, 0, sizeof a);
			a.sa_handler = abort_on_alternate_stack;
			a.sa_flags = SA_ONSTACK;
			CHECK_SYS(sigaction(SIGSEGV, &a, NULL));
			*(volatile int *)(uintptr_t)8 = 1;
			break;
		}
		case FAULT:
			*(volatile int *)(uintptr_t)8 = 1;
			break;
		case ABORTED:
			abort();
		case RESET_AND_RAISED: {
			struct sigaction a;
			memset(&a, 0, sizeof a);
			a.sa_handler = reraise;
			a.sa_flags = SA_RESETHAND | SA_NODEFER;
			CHECK_SYS(sigaction(sig, &a, NULL));
			raise(sig);
			break;
		}
		}
		_exit(99);
	}
	if (how == SENT || how == SENT_IN_SIGSUSPEND) {
		usleep(100 * 1000);
		CHECK_SYS(kill(pid, sig));
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	return status;
}

static void dies_of(int sig, enum how how, rlim_t limit)
{
	int status = child_dies(sig, how, limit);
	unlink("core");
	if (!WIFSIGNALED(status) || WTERMSIG(status) != sig || !WCOREDUMP(status) != !limit)
		check_fail(HERE, 0, "signal %d (way %d, RLIMIT_CORE %lu): status %#x", sig, how, (unsigned long)limit, status);
}

int main(void)
{
	struct sigaction dfl, handler, usr1;
	memset(&dfl, 0, sizeof dfl);
	memset(&handler, 0, sizeof handler);
	dfl.sa_handler = SIG_DFL;
	/* Kept by the kernel with a default action too, and shown back. */
	dfl.sa_flags = SA_RESTART | SA_ONSTACK;
	sigaddset(&dfl.sa_mask, SIGUSR2);
	handler.sa_handler = on_signal;

	usr1 = now(SIGUSR1);
	for (size_t i = 0; i < N; i++)
		same_action(dumps_core[i], &usr1, "at start");

	struct sigaction old;
	CHECK_SYS(sigaction(SIGUSR1, &handler, NULL));
	CHECK_SYS(sigaction(SIGUSR1, &dfl, NULL));
	usr1 = now(SIGUSR1);
	for (size_t i = 0; i < N; i++) {
		int sig = dumps_core[i];
		CHECK_SYS(sigaction(sig, &handler, &old));
		CHECK(old.sa_handler == SIG_DFL);
		CHECK_SYS(sigaction(sig, &dfl, &old));
		CHECK(old.sa_handler == on_signal);
		same_action(sig, &usr1, "after a handler and SIG_DFL");
		CHECK(signal(sig, SIG_DFL) == SIG_DFL);
		CHECK(signal(sig, on_signal) == SIG_DFL);
		CHECK(signal(sig, SIG_DFL) == on_signal);
	}

	for (size_t i = 0; i < N; i++) {
		dies_of(dumps_core[i], RAISED, 0);
		dies_of(dumps_core[i], SENT, 0);
		dies_of(dumps_core[i], RESET_AND_RAISED, 0);
	}
	dies_of(SIGSEGV, FAULT, 0);
	dies_of(SIGSEGV, FAULT, RLIM_INFINITY);
	dies_of(SIGABRT, ABORTED, RLIM_INFINITY);
	dies_of(SIGQUIT, SENT, RLIM_INFINITY);
	dies_of(SIGTRAP, RESET_AND_RAISED, RLIM_INFINITY);
	dies_of(SIGQUIT, SENT_IN_SIGSUSPEND, 0);
	dies_of(SIGABRT, FAULT_THEN_ABORT_ON_ALTSTACK, 0);
	printf("core signals: as natively\n");
	return 0;
}
