// exec_from_shadow: programs and scripts stored under /shadow can be executed.
#include "check.h"

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/bin", 0755));
	write_file(SHADOW "/bin/shadow-test-script", "#!/bin/sh\necho \"script $1\" > " SHADOW "/out\n");
	CHECK_SYS(chmod(SHADOW "/bin/shadow-test-script", 0755));
	CHECK_SYS(access(SHADOW "/bin/shadow-test-script", X_OK));

	/* execv by absolute path. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl(SHADOW "/bin/shadow-test-script", "script", "execl", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/out", "script execl\n");

	/* execvp with /shadow/bin on PATH. */
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		setenv("PATH", SHADOW "/bin:/usr/bin:/bin", 1);
		execlp("shadow-test-script", "shadow-test-script", "execlp", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/out", "script execlp\n");

	/* A shell running it by path. */
	system_ok(SHADOW "/bin/shadow-test-script system");
	EXPECT_FILE(SHADOW "/out", "script system\n");

	/* fexecve on a descriptor opened through the shim. */
	int fd = CHECK_SYS(open(SHADOW "/bin/shadow-test-script", O_RDONLY));
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		char *argv[] = { "script", "fexecve", NULL };
		extern char **environ;
		fexecve(fd, argv, environ);
		_exit(127);
	}
	wait_ok(pid);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/out", "script fexecve\n");

	/* A missing program fails as natively. */
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl(SHADOW "/bin/missing", "missing", (char *)NULL);
		_exit(errno == ENOENT ? 42 : 1);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	return 0;
}
