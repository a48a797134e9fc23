// chdir_relative: chdir into /shadow, relative paths and getcwd (which names the cwd where
// it is now, after a directory above it was renamed; before, the name it had at the chdir).
#include "check.h"

int main(void)
{
	char cwd[4096];

	CHECK_SYS(mkdir(SHADOW "/sub", 0755));
	CHECK_SYS(mkdir(SHADOW "/sub/deeper", 0755));
	CHECK_SYS(chdir(SHADOW "/sub"));
	CHECK_PTR(getcwd(cwd, sizeof cwd));
	CHECK_STREQ(cwd, SHADOW "/sub");

	write_file("rel", "rel\n");
	EXPECT_FILE(SHADOW "/sub/rel", "rel\n");
	CHECK_SYS(rename("rel", "renamed"));
	EXPECT_FILE(SHADOW "/sub/renamed", "rel\n");
	EXPECT_MISSING(SHADOW "/sub/rel");

	write_file("./deeper/../dot", "dot\n");
	EXPECT_FILE(SHADOW "/sub/dot", "dot\n");
	write_file("../up", "up\n");
	EXPECT_FILE(SHADOW "/up", "up\n");
	CHECK_SYS(mkdir("newdir", 0755));
	CHECK(S_ISDIR(xstat(SHADOW "/sub/newdir").st_mode));

	/* Relative chdir inside the shadow, then back up with "..". */
	CHECK_SYS(chdir("deeper"));
	CHECK_PTR(getcwd(cwd, sizeof cwd));
	CHECK_STREQ(cwd, SHADOW "/sub/deeper");
	write_file("../../top", "top\n");
	EXPECT_FILE(SHADOW "/top", "top\n");
	CHECK_SYS(unlink("../renamed"));
	EXPECT_MISSING(SHADOW "/sub/renamed");
	CHECK_SYS(chdir(".."));
	CHECK_PTR(getcwd(cwd, sizeof cwd));
	CHECK_STREQ(cwd, SHADOW "/sub");

	/* getcwd(NULL, 0) allocates; get_current_dir_name agrees. */
	char *dyn = CHECK_PTR(getcwd(NULL, 0));
	CHECK_STREQ(dyn, SHADOW "/sub");
	free(dyn);
	dyn = CHECK_PTR(get_current_dir_name());
	CHECK_STREQ(dyn, SHADOW "/sub");
	free(dyn);

	/* A child process inherits the virtual cwd. */
	system_ok("echo child > from-shell");
	EXPECT_FILE(SHADOW "/sub/from-shell", "child\n");

	/* A directory above the cwd renamed (here, or by any other process). */
	CHECK_SYS(rename(SHADOW "/sub", SHADOW "/moved"));
	CHECK_PTR(getcwd(cwd, sizeof cwd));
	CHECK_STREQ(cwd, SHADOW "/moved");
	write_file(xasprintf("%s/after-move", cwd), "moved\n");
	EXPECT_FILE(SHADOW "/moved/after-move", "moved\n");

	/* Leaving the shadow: relative paths are real again. */
	CHECK_SYS(chdir(test_tmp()));
	CHECK_PTR(getcwd(cwd, sizeof cwd));
	CHECK_STREQ(cwd, test_tmp());
	write_file("outside", "outside\n");
	EXPECT_FILE(xasprintf("%s/outside", test_tmp()), "outside\n");
	return 0;
}
