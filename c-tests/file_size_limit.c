// file_size_limit: a program with a file size limit (RLIMIT_FSIZE, `ulimit -f`) below the
// size of the shim's journal keeps working: the shim's own records are never written past
// the limit, where the kernel would send SIGXFSZ, whose default action killed the program
// (`ulimit -f 8; echo x > /shadow/f` died once the journal was larger). The journal record
// that cannot be written is reported (00060) and the journal marked lost, so `recover`
// verifies everything. A limit set in the program (setrlimit) counts at once, one set
// before a program starts (its child here) from its start. The program's own writes meet
// the limit as natively.
// expect-history: ^00060 .*write-intent journal: File too large: the next `shadowctl recover` verifies everything\]$
// expect-recover: needed
#include "check.h"
#include <signal.h>
#include <sys/resource.h>

int main(void)
{
	/* A journal larger than the limit: an intent for each of many directories. */
	for (int i = 0; i < 64; i++) {
		char *dir = xasprintf(SHADOW "/d%d", i);
		CHECK_SYS(mkdir(dir, 0755));
		write_file(xasprintf("%s/f", dir), "x");
	}
	struct stat journal;
	CHECK_SYS(stat(xasprintf("%s/state/journal", test_tmp()), &journal));
	CHECK(journal.st_size > 2048);

	struct rlimit limit = { 2048, RLIM_INFINITY };
	CHECK_SYS(setrlimit(RLIMIT_FSIZE, &limit));
	CHECK_SYS(mkdir(SHADOW "/after", 0755));
	write_file(SHADOW "/after/f", "small");
	EXPECT_FILE(member_path("secondary", SHADOW "/after/f"), "small");
	CHECK_EQ(system("mkdir " SHADOW "/child && echo child > " SHADOW "/child/f"), 0);
	EXPECT_FILE(member_path("secondary", SHADOW "/child/f"), "child\n");

	/* The program's own file meets the limit as natively: a short write, then EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	static char big[3000];
	int fd = CHECK_SYS(open(SHADOW "/after/big", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(write(fd, big, sizeof big), 2048);
	CHECK_ERR(write(fd, big, 1), EFBIG);
	CHECK_SYS(close(fd));
	struct stat st;
	CHECK_SYS(stat(member_path("secondary", SHADOW "/after/big"), &st));
	CHECK_EQ(st.st_size, 2048);
	return 0;
}
