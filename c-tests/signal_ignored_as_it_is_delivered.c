// signal_ignored_as_it_is_delivered: one thread raises SIGUSR1 at itself again and again
// while another switches its action between a handler and SIG_IGN (CPython's
// test_signal.StressTest.test_stress_modifying_handlers). Natively the process never dies:
// each signal is handled or ignored. The kernel may already be delivering one to the
// shim's trampoline as SIG_IGN is set; the shim took the program's action then for the
// default one and killed the process (2 runs in 8 of the CPython test).
// timeout: 120
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

static atomic_int stop;
static atomic_long handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void *raiser(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		raise(SIGUSR1);
	return NULL;
}

int main(void)
{
	struct sigaction catch = { .sa_handler = on_usr1 }, ignore = { .sa_handler = SIG_IGN };
	CHECK_SYS(sigaction(SIGUSR1, &catch, NULL));
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, raiser, NULL), 0);
	for (int i = 0; i < 200000; i++) {
		CHECK_SYS(sigaction(SIGUSR1, &catch, NULL));
		CHECK_SYS(sigaction(SIGUSR1, &ignore, NULL));
	}
	atomic_store(&stop, 1);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(atomic_load(&handled) > 0);
	write_file(SHADOW "/survived", "yes");
	EXPECT_FILE(SHADOW "/survived", "yes");
	return 0;
}
