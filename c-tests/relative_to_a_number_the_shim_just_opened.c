// relative_to_a_number_the_shim_just_opened: a thread makes a directory relative to a
// directory number in the instant between the shim's own open there (the follower's twin
// of a directory the main thread opens) and the shim's mark on it. lib/slow_move.c,
// preloaded after the shim, holds that instant open 100 ms and tells the thread the number.
// The mkdirat reaches the secondary alone (natively the number is free: EBADF): it is
// reported, and an intent on the directory's entries kept for `recover`. Before, the new
// directory stayed on the secondary alone, unreported.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00030 .*a program's call on a number the shim was opening a member's file at may have reached that member alone
#include "check.h"
#include "lib/slow_move.h"

static int tell[2];
static int made;

static void *make_there(void *arg)
{
	int n;
	CHECK(read(tell[0], &n, sizeof n) == sizeof n);
	made = mkdirat(n, "made", 0755) == 0;
	return arg;
}

int main(int argc, char **argv)
{
	(void)argc;
	with_slow_move(argv);
	int d = open_d_beside(make_there, tell);
	/* Made where the shim's fd led, on the secondary: not seen through the prefix. */
	CHECK(made);
	EXPECT_MISSING(SHADOW "/d/made");
	CHECK_SYS(close(d));
	return 0;
}
