// secondary_open_failure: the secondary's counterpart of a file cannot be opened
// (secondary/f is a directory, see secondary_open_failure.setup).  The program sees
// success with the primary's result; the file is reported insecure in history.log.
// expect-verify: differ
// expect-history: ^[0-9]{5} \[[^]]*/primary/f\]\[[^]]*/secondary/f\]\[[^]]+\]$
// expect-recover: needed
#include "check.h"

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "primary only\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/f", "primary only\n");
	CHECK(S_ISDIR(xstat(member_path("secondary", SHADOW "/f")).st_mode));

	/* Other files are mirrored as usual. */
	write_file(SHADOW "/ok", "fine\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/ok"), "fine\n");
	return 0;
}
