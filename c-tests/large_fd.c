// large_fd: a shadowed fd dup2'ed to 900 keeps mirroring.
#include "check.h"

#include <sys/resource.h>

int main(void)
{
	struct rlimit rl;

	CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur <= 1000) {
		CHECK(rl.rlim_max > 1000);
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		CHECK_SYS(setrlimit(RLIMIT_NOFILE, &rl));
	}

	const char *path = SHADOW "/large";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "low\n");
	CHECK_EQ(dup2(fd, 900), 900);
	CHECK_SYS(close(fd));
	write_str(900, "high\n");
	CHECK_EQ(fcntl(900, F_DUPFD, 950), 950);
	write_str(950, "higher\n");
	CHECK_SYS(close(950));
	write_str(900, "end\n");
	CHECK_SYS(close(900));
	EXPECT_EBADF(900);
	EXPECT_FILE(path, "low\nhigh\nhigher\nend\n");

	/* A fresh open when all low numbers are taken lands high too. */
	int hold[64];
	for (int i = 0; i < 64; i++)
		hold[i] = CHECK_SYS(open("/dev/null", O_RDONLY));
	fd = CHECK_SYS(open(SHADOW "/after-many", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "many\n");
	CHECK_SYS(close(fd));
	for (int i = 0; i < 64; i++)
		CHECK_SYS(close(hold[i]));
	EXPECT_FILE(SHADOW "/after-many", "many\n");
	return 0;
}
