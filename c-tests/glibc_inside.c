// glibc_inside: library functions whose own calls no hook sees. closedir after an fsync of
// the directory's fd (dpkg syncs directories so) left the fsync's write intent open: the
// next program of the set reported a crash (00101) and recover was due. daemon(3) exited
// its parent, moved the cwd and pointed fds 0-2 at /dev/null with internal calls: the parent
// left with its intents open, the shim kept the old cwd, and stdout kept the log's OCB
// (writes to /dev/null were repeated on the log's follower, and at exit the follower took
// /dev/null's times).
// timeout: 60
#include "check.h"

#include <dirent.h>
#include <sys/wait.h>

int main(void)
{
	// opendir, fsync of its fd, closedir; then a program that would report a leftover.
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	write_file(SHADOW "/d/f", "x");
	DIR *dir = CHECK_PTR(opendir(SHADOW "/d"));
	CHECK_SYS(fsync(dirfd(dir)));
	CHECK_SYS(closedir(dir));

	// daemon(0, 0) from a child whose stdout is a log under the prefix, in a cwd there.
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(chdir(SHADOW "/d"));
		int log = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_APPEND, 0644));
		CHECK_SYS(dup2(log, 1));
		CHECK_SYS(close(log));
		write_str(1, "before daemon\n");
		CHECK_SYS(daemon(0, 0));
		// Natively: the cwd is /, stdout is /dev/null.
		char cwd[64];
		int at_root = getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0;
		write_str(1, "to /dev/null\n");
		write_file(SHADOW "/daemon-done", at_root ? "cwd /\n" : "cwd elsewhere\n");
		_exit(0);
	}
	wait_ok(pid);
	for (int i = 0; i < 500 && access(SHADOW "/daemon-done", F_OK) != 0; i++)
		usleep(10000);
	usleep(100000);
	EXPECT_FILE(SHADOW "/daemon-done", "cwd /\n");
	EXPECT_FILE(SHADOW "/log", "before daemon\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/log");
	struct stat p = xstat(member_path("primary", SHADOW "/log"));
	struct stat s = xstat(member_path("secondary", SHADOW "/log"));
	CHECK_EQ(p.st_mtim.tv_sec, s.st_mtim.tv_sec);
	CHECK_EQ(p.st_mtim.tv_nsec, s.st_mtim.tv_nsec);
	// A program of the set started now reports any process that left intents behind.
	system_ok("true");
	return 0;
}
