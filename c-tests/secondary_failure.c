// secondary_failure: mkdir works on the primary but not the secondary (secondary/sub
// is a regular file, see secondary_failure.setup).  The program sees success; the
// shim reports the insecure file in history.log; the members differ.
// expect-verify: differ
// expect-history: ^[0-9]{5} \[[^]]*/primary/sub(/f)?\]\[[^]]*/secondary/sub(/f)?\]\[[^]]+\]$
// expect-recover: needed
#include "check.h"

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/sub", 0755));
	CHECK(S_ISDIR(xstat(SHADOW "/sub").st_mode));
	int fd = CHECK_SYS(open(SHADOW "/sub/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "only on primary\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/sub/f", "only on primary\n");

	/* The primary holds the data; the secondary still has the blocking file. */
	EXPECT_FILE(xasprintf("%s/primary/sub/f", test_tmp()), "only on primary\n");
	CHECK(S_ISREG(xstat(xasprintf("%s/secondary/sub", test_tmp())).st_mode));

	/* Files elsewhere are unaffected. */
	write_file(SHADOW "/ok", "fine\n");
	return 0;
}
