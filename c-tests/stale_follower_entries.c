// stale_follower_entries: the follower holds entries the primary lacks (left by an earlier
// failure): x, a symlink to y, and z, a FIFO. Creating x and z on the primary replaces
// them on the follower as they are (the symlink is not followed, so the follower's y,
// identical on both members, is left alone; the FIFO is not waited on).
// timeout: 30
#include "check.h"

int main(void)
{
	alarm(20);
	int fd = CHECK_SYS(open(SHADOW "/x", O_WRONLY | O_CREAT, 0644));
	write_all(fd, "x data\n", 7);
	CHECK_SYS(close(fd));
	fd = CHECK_SYS(open(SHADOW "/z", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_all(fd, "z data\n", 7);
	CHECK_SYS(close(fd));
	size_t n;
	CHECK_STREQ(read_whole_file(member_path("secondary", SHADOW "/y"), &n), "original\n");
	CHECK_STREQ(read_whole_file(member_path("secondary", SHADOW "/x"), &n), "x data\n");
	EXPECT_FILE(SHADOW "/y", "original\n");
	return 0;
}
