// term_default: a process that dies of SIGTERM (or SIGINT, SIGPIPE...) under the default
// action, as smbd and Postfix stop (they send themselves SIGTERM) and as init scripts stop
// servers, has its end settled as at _exit: a mapping's pages reach the secondary, written
// files get the lead's times, and its intents end, so no recover is due. Before, the
// shim's exit work never ran: every such stop left recover due, the members apart until
// it ran (found by a helper's hunt). The death itself is unchanged: the parent sees
// SIGTERM.
#include "check.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static void dies_of(int sig, void (*body)(void))
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		body();
		kill(getpid(), sig);
		_exit(99);
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sig);
}

static void appender(void)
{
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_APPEND, 0644));
	write_str(fd, "line\n");
}

static void mapper(void)
{
	int fd = CHECK_SYS(open(SHADOW "/map", O_RDWR | O_CREAT, 0644));
	CHECK_SYS(ftruncate(fd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memcpy(m, "mapped", 6);
}

int main(void)
{
	dies_of(SIGTERM, appender);
	dies_of(SIGINT, appender);
	dies_of(SIGTERM, mapper);
	EXPECT_FILE(member_path("secondary", SHADOW "/log"), "line\nline\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/map");
	return 0;
}
