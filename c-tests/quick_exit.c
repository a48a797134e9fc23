// quick_exit: a process that leaves by quick_exit(3), or by a raw exit_group system call,
// runs no atexit handler, so not the shim's. glibc ends quick_exit with an internal _exit
// no hook sees: before, such a process left its write intents open, and the set said
// "recover needed" for a process that had ended cleanly (run.sh fails a test that leaves
// recover due). Now the shim ends them after the program's own at_quick_exit handlers (one
// below writes a file), and syscall(SYS_exit_group) goes through the `_exit` hook.
#define _GNU_SOURCE
#include "check.h"

#include <sys/syscall.h>

static void last_words(void)
{
	int fd = CHECK_SYS(open(SHADOW "/from_handler", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "written by an at_quick_exit handler\n");
	CHECK_SYS(close(fd));
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "parent\n");

	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int own = CHECK_SYS(open(SHADOW "/by_child", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_str(own, "made by a child that leaves by exit_group\n");
		syscall(SYS_exit_group, 0);
	}
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/by_child", "made by a child that leaves by exit_group\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/by_child");

	write_str(fd, "parent again\n");
	CHECK(at_quick_exit(last_words) == 0);
	quick_exit(0);
}
