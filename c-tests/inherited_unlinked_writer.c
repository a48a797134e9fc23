// inherited_unlinked_writer: a shell holding a log open for appending (exec 7>>log) after
// logrotate moved it away and deleted it (compressed), then running commands that inherit
// fd 7, one of them writing to it. No member names the file any more and none ever can
// again (only an O_TMPFILE file is linked back: inherited_tmpfile_writer.c), so nothing
// the follower misses can show: nothing is reported and no recover is due. Before, every
// child reported the file insecure ("inherited after unlink", 00020, on its stderr) and
// left recover due, even one that never wrote to it.
#include "check.h"

static void run_child(int fd, const char *script)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		if (fd != 7)
			CHECK_SYS(dup2(fd, 7));
		execlp("sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	wait_ok_at(HERE, pid);
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/log", 0755));
	int fd = CHECK_SYS(open(SHADOW "/log/app.log", O_WRONLY | O_APPEND | O_CREAT, 0644));
	CHECK_SYS(write(fd, "before the rotation\n", 20));
	CHECK_SYS(rename(SHADOW "/log/app.log", SHADOW "/log/app.log.1"));
	write_file(SHADOW "/log/app.log.1.gz", "compressed\n");
	CHECK_SYS(unlink(SHADOW "/log/app.log.1"));
	run_child(fd, "true");
	run_child(fd, "echo from a child >&7");
	CHECK_SYS(write(fd, "after the child\n", 16));
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	CHECK_EQ((long long)st.st_size, 20LL + 13 + 16);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/log/app.log.1.gz", "compressed\n");
	printf("an unlinked log written by inheriting children: nothing to report\n");
	return 0;
}
