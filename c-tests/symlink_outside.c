// symlink_outside: a symlink under the prefix to a directory outside it (logs ->
// /var/log/app): mkdir, rename, link, unlink and rmdir through it are made once, where both
// members' walks meet, and nothing is reported (before: every one was reported as a
// follower failure, EEXIST or ENOENT, and recover was said to be due).
#include "check.h"

int main(void)
{
	char *out = xasprintf("%s/outside", test_tmp());
	CHECK_SYS(mkdir(out, 0755));
	CHECK_SYS(symlink(out, SHADOW "/logs"));
	CHECK_SYS(mkdir(SHADOW "/logs/d", 0755));
	write_file(xasprintf("%s/f", out), "x");
	CHECK_SYS(rename(SHADOW "/logs/f", SHADOW "/logs/g"));
	CHECK_SYS(link(SHADOW "/logs/g", SHADOW "/logs/h"));
	CHECK_SYS(unlink(SHADOW "/logs/g"));
	CHECK_SYS(rmdir(SHADOW "/logs/d"));
	EXPECT_FILE(xasprintf("%s/h", out), "x");
	EXPECT_MISSING(xasprintf("%s/g", out));
	EXPECT_MISSING(xasprintf("%s/d", out));
	return 0;
}
