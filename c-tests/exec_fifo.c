// exec_fifo: an exec (or a spawn) of a FIFO fails with EACCES, at once, as natively.
// Before, the shim opened the program to read its library paths, and for a FIFO that open
// waited for a writer for ever; so did its look at the program when files under the prefix
// were inherited open for writing or the working directory was under the prefix.
// timeout: 30
#define _GNU_SOURCE
#include "check.h"

#include <spawn.h>

extern char **environ;

static void cannot_run(const char *fifo)
{
	char *argv[] = { (char *)fifo, NULL };
	CHECK_ERR(execv(fifo, argv), EACCES);
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, fifo, NULL, NULL, argv, environ), EACCES);
}

int main(void)
{
	char *outside = xasprintf("%s/fifo-outside", test_tmp());
	CHECK_SYS(mkfifo(outside, 0755));
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0755));

	cannot_run(outside);
	cannot_run(SHADOW "/fifo");

	/* With a file under the prefix inherited open for writing, and the working directory
	 * there: the exec looks at the program first. */
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(chdir(SHADOW));
	cannot_run(outside);
	cannot_run("./fifo");
	write_str(fd, "still here\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/log", "still here\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/log");
	CHECK_SYS(unlink(outside));
	return 0;
}
