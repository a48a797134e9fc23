// remove: remove() on a file and on an empty directory; failures as native.
#include "check.h"

int main(void)
{
	write_file(SHADOW "/file", "x\n");
	CHECK_SYS(mkdir(SHADOW "/empty", 0755));
	CHECK_SYS(mkdir(SHADOW "/full", 0755));
	write_file(SHADOW "/full/keep", "keep\n");

	CHECK_SYS(remove(SHADOW "/file"));
	EXPECT_MISSING(SHADOW "/file");
	CHECK_SYS(remove(SHADOW "/empty"));
	EXPECT_MISSING(SHADOW "/empty");
	CHECK_ERR(remove(SHADOW "/full"), ENOTEMPTY);
	CHECK_ERR(remove(SHADOW "/missing"), ENOENT);
	EXPECT_FILE(SHADOW "/full/keep", "keep\n");

	/* A symlink is removed itself, not its target. */
	CHECK_SYS(symlink("full", SHADOW "/link"));
	CHECK_SYS(remove(SHADOW "/link"));
	struct stat st;
	CHECK_ERR(lstat(SHADOW "/link", &st), ENOENT);
	EXPECT_FILE(SHADOW "/full/keep", "keep\n");
	return 0;
}
