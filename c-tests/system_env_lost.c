// system_env_lost: a program that removed the shim's variables from its environment
// (unsetenv("LD_PRELOAD"), clearenv(), as daemons that clean their environment do), then
// runs commands with system(3) and popen(3). glibc starts their shell in the environment
// as it is, so the shell ran without the shim: its writes to the shadowed fd it inherited
// reached the primary alone, unreported (run.sh's verify found the members different).
// Now the shim hands such a command to a shell that puts its variables back and execs
// the real one. The command runs as asked: its status, its quoting, its output.
#include "check.h"

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/out", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	char cmd[256];

	CHECK_SYS(unsetenv("LD_PRELOAD"));
	snprintf(cmd, sizeof cmd, "echo 'from system, it'\\''s quoted' >&%d", fd);
	CHECK_EQ(system(cmd), 0);
	int status = system("exit 3");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);

	char *tmp = strdup(test_tmp());
	CHECK_SYS(clearenv());
	snprintf(cmd, sizeof cmd, "echo from popen >&%d; echo to the pipe", fd);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	char line[64] = "";
	CHECK(fgets(line, sizeof line, p) != NULL);
	CHECK_STREQ(line, "to the pipe\n");
	CHECK_EQ(pclose(p), 0);
	CHECK_SYS(setenv("SHADOW_TEST_TMP", tmp, 1)); /* for the members' paths below */

	write_str(fd, "from the program\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/out", "from system, it's quoted\nfrom popen\nfrom the program\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/out");
	return 0;
}
