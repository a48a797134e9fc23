// fsync_family: fsync, fdatasync, sync_file_range, syncfs, sync on shadowed fds.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/synced";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));

	write_str(fd, "one\n");
	CHECK_SYS(fsync(fd));
	write_str(fd, "two\n");
	CHECK_SYS(fdatasync(fd));
	write_str(fd, "three\n");
	CHECK_SYS(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
				  SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	CHECK_SYS(syncfs(fd));
	sync();
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "one\ntwo\nthree\n");

	/* O_SYNC / O_DSYNC opens write through as usual. */
	fd = CHECK_SYS(open(SHADOW "/osync", O_WRONLY | O_CREAT | O_TRUNC | O_SYNC, 0644));
	write_str(fd, "osync\n");
	CHECK_SYS(close(fd));
	fd = CHECK_SYS(open(SHADOW "/odsync", O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC, 0644));
	write_str(fd, "odsync\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/osync", "osync\n");
	EXPECT_FILE(SHADOW "/odsync", "odsync\n");

	/* fsync of a shadowed directory fd. */
	int dfd = CHECK_SYS(open(SHADOW, O_RDONLY | O_DIRECTORY));
	CHECK_SYS(fsync(dfd));
	CHECK_SYS(close(dfd));

	/* Errors as native: fsync on a closed fd. */
	CHECK_ERR(fsync(fd), EBADF);
	return 0;
}
