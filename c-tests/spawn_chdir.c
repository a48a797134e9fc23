// spawn_chdir: posix_spawn with a chdir file action into /shadow; the child's
// relative writes land in the shadow.
#include "check.h"

#include <spawn.h>

extern char **environ;

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/sub", 0755));

	posix_spawn_file_actions_t fa;
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_addchdir_np(&fa, SHADOW "/sub"), 0);
	char *argv[] = { "sh", "-c", "pwd > rel && echo spawned >> rel", NULL };
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ), 0);
	wait_ok(pid);
	CHECK_EQ(posix_spawn_file_actions_destroy(&fa), 0);
	EXPECT_FILE(SHADOW "/sub/rel", SHADOW "/sub\nspawned\n");

	/* fchdir file action on a shadowed directory fd. */
	int dfd = CHECK_SYS(open(SHADOW "/sub", O_RDONLY | O_DIRECTORY));
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_addfchdir_np(&fa, dfd), 0);
	char *argv2[] = { "sh", "-c", "echo fchdir > rel2", NULL };
	CHECK_EQ(posix_spawn(&pid, "/bin/sh", &fa, NULL, argv2, environ), 0);
	wait_ok(pid);
	CHECK_EQ(posix_spawn_file_actions_destroy(&fa), 0);
	CHECK_SYS(close(dfd));
	EXPECT_FILE(SHADOW "/sub/rel2", "fchdir\n");
	return 0;
}
