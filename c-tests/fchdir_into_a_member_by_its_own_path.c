// fchdir_into_a_member_by_its_own_path: a member's directory opened by the member's own
// path is outside the prefix, and a fchdir there stays there: what the program then makes
// relative to its cwd reaches that member alone, as it asked (a maintenance script working
// on one member; `find` and `nftw` move with fchdir). The shim takes such a cwd for a
// directory of the set only when the number was its own an instant before
// (fchdir_to_a_number_the_shim_just_opened.c).
// expect-verify: differ
#include "check.h"

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	int d = CHECK_SYS(open(member_path("secondary", SHADOW "/d"), O_RDONLY | O_DIRECTORY));
	CHECK_SYS(fchdir(d));
	CHECK_SYS(mkdir("made", 0755));
	EXPECT_MISSING(SHADOW "/d/made");
	struct stat st;
	CHECK_SYS(stat(member_path("secondary", SHADOW "/d/made"), &st));
	CHECK_SYS(close(d));
	return 0;
}
