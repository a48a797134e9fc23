// dup2_over_shim: the program dup2s a file of its own onto every number where the shim keeps
// its fds (member roots, the cwd on each member, the journal, change list, history and lock
// files, a mapping's handle, follower files) and keeps them open. Every one of those moves
// out of the way: the program's file receives nothing of the shim's, and what the program
// does next (mapped writes, appends, creates, renames, a child's writes, closefrom) is
// mirrored as before.
#include "check.h"

#include <sys/mman.h>
#include <sys/resource.h>

#define SPAN 64

int main(void)
{
	struct rlimit rl;
	CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
	/* Where the shim puts its fds: from half the limit (at most 1024) up. */
	int base = (rl.rlim_cur < 2048 ? rl.rlim_cur : 2048) / 2;
	if (base < 16)
		base = 16;

	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	int w = CHECK_SYS(open("w", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(w, "before\n");
	int m = CHECK_SYS(open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(m, 8192));
	char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(map != MAP_FAILED);
	CHECK_SYS(close(m));

	char *trap = xasprintf("%s/trap", test_tmp());
	int t = CHECK_SYS(open(trap, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644));
	for (int n = base; n < base + SPAN && n < (int)rl.rlim_cur; n++)
		if (n != w && n != t)
			CHECK_EQ(dup2(t, n), n);

	memset(map, 'm', 8192);
	CHECK_SYS(msync(map, 8192, MS_SYNC));
	CHECK_SYS(munmap(map, 8192));
	write_str(w, "after\n");
	write_file("new", "created after\n");
	CHECK_SYS(mkdir("sub", 0755));
	CHECK_SYS(rename("new", "sub/renamed"));
	CHECK_SYS(system("echo child >> " SHADOW "/d/w2") == 0 ? 0 : -1);
	closefrom(3);
	EXPECT_EBADF(w);
	write_file(SHADOW "/d/last", "after closefrom\n");

	struct stat st;
	CHECK_SYS(stat(trap, &st));
	CHECK_EQ(st.st_size, 0);
	EXPECT_FILE(SHADOW "/d/w", "before\nafter\n");
	EXPECT_FILE(SHADOW "/d/w2", "child\n");
	EXPECT_FILE(SHADOW "/d/sub/renamed", "created after\n");
	return 0;
}
