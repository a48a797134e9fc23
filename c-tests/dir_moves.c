// dir_moves: one process swaps directories a and b by renames (a -> t, b -> a, t -> b) and
// swaps a symlink's target the way `ln -sfn` does (a new symlink renamed over it), while
// two others create files through a/, b/ and cur/ and append to a/log by path. Each
// creation must land in the same directory on both members: a name operation is ordered
// against the rename of a directory (or symlink) its path passes through (names.rs).
// Before, 1,000-2,000 files per run sat in a/ on one member and b/ on the other,
// unreported.
// timeout: 180
#include "check.h"

#include <sys/wait.h>

#define ROUNDS 1500

static void mover(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_SYS(rename("a", "t"));
		CHECK_SYS(rename("b", "a"));
		CHECK_SYS(rename("t", "b"));
		CHECK_SYS(symlink(i % 2 ? "a" : "b", "cur.new"));
		CHECK_SYS(rename("cur.new", "cur"));
	}
}

static void creator(int who)
{
	const char *dirs[] = { "a", "b", "cur" };
	for (int i = 0; i < ROUNDS; i++) {
		char *p = xasprintf("%s/w%d_%d", dirs[i % 3], who, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0)
			CHECK_SYS(close(fd));
		free(p);
		fd = open("a/log", O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			write_str(fd, who ? "1\n" : "0\n");
			CHECK_SYS(close(fd));
		}
	}
}

int main(void)
{
	CHECK_SYS(chdir(SHADOW));
	CHECK_SYS(mkdir("a", 0755));
	CHECK_SYS(mkdir("b", 0755));
	CHECK_SYS(symlink("a", "cur"));
	pid_t pids[3];
	for (int k = 0; k < 3; k++) {
		pids[k] = CHECK_SYS(fork());
		if (pids[k] == 0) {
			if (k == 0)
				mover();
			else
				creator(k);
			_exit(0);
		}
	}
	for (int k = 0; k < 3; k++)
		wait_ok_at(HERE, pids[k]);
	return 0;
}
