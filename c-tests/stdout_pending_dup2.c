// stdout_pending_dup2: output still in stdout's buffer when a dup2 moves fd 1 is written,
// as natively, to what fd 1 is when the stream is flushed, not to what it was at the dup2:
// into the prefix, out of it, and from one file under it to another. Before, the shim
// flushed stdout at every dup2 onto fd 1, so "pending" text landed in the file fd 1 left
// (a daemon's start-up lines written to its log, natively sent to /dev/null after it).
// A forked child's copy of the pending output goes with the child's stream and is dropped
// at its exec. stderr, unbuffered, is written at once wherever it points.
#include "check.h"

static void onto(int target, const char *path)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(dup2(fd, target));
	CHECK_SYS(close(fd));
}

int main(void)
{
	char *outside = xasprintf("%s/outside", test_tmp());
	char *outside2 = xasprintf("%s/outside2", test_tmp());
	int saved = CHECK_SYS(dup(1)), saved_err = CHECK_SYS(dup(2));

	/* Before stdout's first output: a regular file makes it fully buffered. */
	onto(1, outside);
	printf("into the prefix\n");
	onto(1, SHADOW "/a");
	printf("b\n");
	CHECK_EQ(fflush(stdout), 0);
	CHECK_STREQ(read_whole_file(outside, NULL), "");
	CHECK_STREQ(read_whole_file(SHADOW "/a", NULL), "into the prefix\nb\n");

	printf("out of the prefix\n");
	onto(1, outside2);
	printf("d\n");
	CHECK_EQ(fflush(stdout), 0);
	CHECK_STREQ(read_whole_file(SHADOW "/a", NULL), "into the prefix\nb\n");
	CHECK_STREQ(read_whole_file(outside2, NULL), "out of the prefix\nd\n");

	onto(1, SHADOW "/b");
	printf("from one ");
	onto(1, SHADOW "/c");
	printf("to another\n");
	CHECK_EQ(fflush(stdout), 0);
	CHECK_STREQ(read_whole_file(SHADOW "/b", NULL), "");
	CHECK_STREQ(read_whole_file(SHADOW "/c", NULL), "from one to another\n");
	CHECK_SYS(dup2(saved, 1));

	/* A child that moves fd 1 into the prefix and execs: its copy of the parent's pending
	 * output is dropped at the exec, as natively, not written to either file (before, the
	 * flush at the dup2 wrote it once more into the parent's file). */
	onto(1, SHADOW "/parent");
	printf("parent pending;");
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		onto(1, SHADOW "/child");
		execl("/bin/echo", "echo", "child", (char *)NULL);
		_exit(127);
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("parent after\n");
	CHECK_EQ(fflush(stdout), 0);
	CHECK_STREQ(read_whole_file(SHADOW "/child", NULL), "child\n");
	CHECK_STREQ(read_whole_file(SHADOW "/parent", NULL), "parent pending;parent after\n");
	CHECK_SYS(dup2(saved, 1));

	onto(2, SHADOW "/err");
	fprintf(stderr, "at once");
	CHECK_STREQ(read_whole_file(SHADOW "/err", NULL), "at once");
	CHECK_SYS(dup2(saved_err, 2));
	return 0;
}
