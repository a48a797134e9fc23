// system_popen_spawn: children from system(), popen(), posix_spawn(), execvp().
#include "check.h"

#include <spawn.h>

extern char **environ;

int main(void)
{
	/* system(): the shell opens the shadowed path for its redirection. */
	system_ok("echo system > " SHADOW "/sys.out && echo more >> " SHADOW "/sys.out");
	EXPECT_FILE(SHADOW "/sys.out", "system\nmore\n");

	/* popen for writing: cat copies our data into a shadowed file. */
	FILE *p = CHECK_PTR(popen("cat > " SHADOW "/p", "w"));
	CHECK(fputs("through popen\n", p) >= 0);
	CHECK_EQ(pclose(p), 0);
	EXPECT_FILE(SHADOW "/p", "through popen\n");

	/* popen for reading a shadowed file. */
	p = CHECK_PTR(popen("cat " SHADOW "/p", "r"));
	char line[64];
	CHECK_PTR(fgets(line, sizeof line, p));
	CHECK_STREQ(line, "through popen\n");
	CHECK_EQ(pclose(p), 0);

	/* posix_spawn with a file action opening a shadowed path onto fd 1. */
	posix_spawn_file_actions_t fa;
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 1, SHADOW "/x",
						  O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	char *argv1[] = { "echo", "spawned", NULL };
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, "/bin/echo", &fa, NULL, argv1, environ), 0);
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/x", "spawned\n");
	/* The same actions again: the open truncates on every member again. */
	write_file(SHADOW "/x", "a line longer than the next child's\n");
	CHECK_EQ(posix_spawn(&pid, "/bin/echo", &fa, NULL, argv1, environ), 0);
	wait_ok(pid);
	CHECK_EQ(posix_spawn_file_actions_destroy(&fa), 0);
	EXPECT_FILE(SHADOW "/x", "spawned\n");

	/* execveat relative to a directory fd outside the prefix, from a cwd inside it. */
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(chdir(SHADOW));
		int bin = CHECK_SYS(open("/bin", O_PATH | O_DIRECTORY));
		char *argv0[] = { "true", NULL };
		execveat(bin, "true", argv0, environ, 0);
		check_fail(HERE, errno, "execveat(/bin, true)");
	}
	wait_ok(pid);

	/* posix_spawnp with a shadowed fd dup2'ed onto fd 1 by a file action. */
	int fd = CHECK_SYS(open(SHADOW "/y", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	write_str(fd, "parent\n");
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_adddup2(&fa, fd, 1), 0);
	char *argv2[] = { "echo", "spawnp", NULL };
	CHECK_EQ(posix_spawnp(&pid, "echo", &fa, NULL, argv2, environ), 0);
	wait_ok(pid);
	CHECK_EQ(posix_spawn_file_actions_destroy(&fa), 0);
	write_str(fd, "parent again\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/y", "parent\nspawnp\nparent again\n");

	/* fork + execvp of a program found on PATH that writes by path. */
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		char *argv3[] = { "cp", SHADOW "/x", SHADOW "/copied", NULL };
		execvp("cp", argv3);
		_exit(127);
	}
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/copied", "spawned\n");
	return 0;
}
