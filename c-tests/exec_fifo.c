// exec_fifo: an exec (or a spawn) of a FIFO fails with EACCES, at once, as natively.
// Before, the shim opened the program to read its library paths, and for a FIFO that open
// waited for a writer for ever; so did its look at the program when files under the prefix
// were inherited open for writing or the working directory was under the prefix.
// And a spawn whose file action opens a FIFO under the prefix for writing with O_CREAT or
// O_TRUNC runs: before, the shim's open of the follower's FIFO (made to create or empty
// the follower's file before the child opens the lead's) waited for a reader for ever.
// timeout: 30
#define _GNU_SOURCE
#include "check.h"

#include <spawn.h>

extern char **environ;

static void *reader(void *arg)
{
	char *got = calloc(1, 64);
	int fd = CHECK_SYS(open(SHADOW "/fifo", O_RDONLY));
	(void)arg;
	CHECK(read(fd, got, 63) > 0);
	CHECK_SYS(close(fd));
	return got;
}

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
	/* A spawn writing its output into the FIFO. */
	pthread_t t;
	void *got;
	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	posix_spawn_file_actions_t fa;
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 1, SHADOW "/fifo", O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	char *echo[] = { "/bin/echo", "through the FIFO", NULL };
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, echo[0], &fa, NULL, echo, environ), 0);
	wait_ok(pid);
	CHECK(pthread_join(t, &got) == 0);
	CHECK_STREQ((char *)got, "through the FIFO\n");
	posix_spawn_file_actions_destroy(&fa);

	write_str(fd, "still here\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/log", "still here\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/log");
	CHECK_SYS(unlink(outside));
	return 0;
}
