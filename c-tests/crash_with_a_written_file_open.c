// crash_with_a_written_file_open: children that die of a signal dumping core (a fault of
// their own, SIGSEGV raised by their own handler as CPython's faulthandler does, abort)
// with a file under the prefix written and still open, and no core to write (RLIMIT_CORE
// 0): the file is level on both members and nothing is left in flight (run.sh: no history
// line, recover not due). Before, each such crash left recover due and the next program
// printed a crash report on its stderr.
#include "check.h"
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void raise_again(int sig)
{
	signal(sig, SIG_DFL);
	raise(sig);
}

static void crash(int how)
{
	switch (how) {
	case 0:
		*(volatile int *)(uintptr_t)8 = 1;
		break;
	case 1:
		signal(SIGSEGV, raise_again);
		raise(SIGSEGV);
		break;
	default:
		abort();
	}
}

int main(void)
{
	const int dies_of[] = { SIGSEGV, SIGSEGV, SIGABRT };
	for (int how = 0; how < 3; how++) {
		char *path = xasprintf(SHADOW "/written%d", how);
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0) {
			struct rlimit none = { 0, 0 };
			CHECK_SYS(setrlimit(RLIMIT_CORE, &none));
			int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
			write_all(fd, "before the crash", 16);
			crash(how);
			_exit(0);
		}
		int status;
		CHECK_SYS(waitpid(pid, &status, 0));
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), dies_of[how]);
		EXPECT_FILE(path, "before the crash");
	}
	return 0;
}
