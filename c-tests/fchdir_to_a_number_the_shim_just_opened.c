// fchdir_to_a_number_the_shim_just_opened: a thread fchdirs to a number in the instant
// between the shim's own open there (the follower's twin of a directory the main thread
// opens) and the shim's mark on it, then makes a directory relative to its cwd.
// lib/slow_move.c, preloaded after the shim, holds that instant open 100 ms and tells the
// thread the number. The kernel's cwd is then the secondary's directory: it is taken as
// that directory of the set (the kernel's cwd moved to the primary's), so what the thread
// makes there reaches both members. Before, the cwd was taken for a real directory outside
// the set: the new directory was made on the secondary alone, unreported.
#include "check.h"
#include "lib/slow_move.h"

static int tell[2];
static int moved;

static void *fchdir_there(void *arg)
{
	int n;
	CHECK(read(tell[0], &n, sizeof n) == sizeof n);
	moved = fchdir(n) == 0;
	CHECK_SYS(mkdirat(AT_FDCWD, "made", 0755));
	return arg;
}

int main(int argc, char **argv)
{
	(void)argc;
	with_slow_move(argv);
	CHECK_SYS(chdir(test_tmp()));
	int d = open_d_beside(fchdir_there, tell);
	CHECK(moved);
	struct stat st;
	CHECK_SYS(fstatat(d, "made", &st, 0));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_SYS(close(d));
	return 0;
}
