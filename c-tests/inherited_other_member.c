// inherited_other_member: a new image that inherits an fd, or its working directory, on a
// member other than the lead is given the lead's file and directory of that name, as the
// process that exec'd it would have been had it taken up the change that moved the lead
// (it was on its way into exec). Before, the child's writes reached that member alone,
// unreported: lines a shell's `echo >> log` children appended as the primary was disabled
// and enabled were lost from both members (found by a helper's chaos run). Here the
// parent stands on the secondary's real paths itself, which is how such a child finds
// them.
#include "check.h"

#include <sys/wait.h>

static void run(const char *script)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_APPEND, 0644));
	write_str(fd, "first\n");
	CHECK_SYS(close(fd));

	// An fd on the secondary's file, inherited as fd 3.
	fd = CHECK_SYS(open(member_path("secondary", SHADOW "/log"), O_WRONLY | O_APPEND));
	CHECK_SYS(dup2(fd, 3));
	if (fd != 3)
		CHECK_SYS(close(fd));
	run("echo second >&3");
	CHECK_SYS(close(3));
	EXPECT_FILE(member_path("primary", SHADOW "/log"), "first\nsecond\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/log"), "first\nsecond\n");

	// A working directory in the secondary's tree.
	CHECK_SYS(chdir(member_path("secondary", SHADOW "/d")));
	run("echo made > f; pwd > where");
	CHECK_SYS(chdir("/"));
	EXPECT_FILE(member_path("primary", SHADOW "/d/f"), "made\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/d/f"), "made\n");
	EXPECT_FILE(SHADOW "/d/where", SHADOW "/d\n");
	return 0;
}
