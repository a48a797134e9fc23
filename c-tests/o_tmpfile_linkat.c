// o_tmpfile_linkat: an O_TMPFILE in /shadow/dir given a name by linkat.
#include "check.h"

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/dir", 0755));

	/* Named through /proc/self/fd/N with AT_SYMLINK_FOLLOW. */
	int fd = CHECK_SYS(open(SHADOW "/dir", O_TMPFILE | O_RDWR, 0644));
	write_str(fd, "tmpfile one\n");
	char *proc = xasprintf("/proc/self/fd/%d", fd);
	CHECK_SYS(linkat(AT_FDCWD, proc, AT_FDCWD, SHADOW "/dir/one", AT_SYMLINK_FOLLOW));
	write_str(fd, "after link\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/dir/one", "tmpfile one\nafter link\n");

	/* Named with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH, else ENOENT natively). */
	fd = CHECK_SYS(open(SHADOW "/dir", O_TMPFILE | O_WRONLY, 0600));
	write_str(fd, "tmpfile two\n");
	if (linkat(fd, "", AT_FDCWD, SHADOW "/dir/two", AT_EMPTY_PATH) == 0) {
		CHECK_SYS(close(fd));
		EXPECT_FILE(SHADOW "/dir/two", "tmpfile two\n");
	} else {
		CHECK_EQ(errno, ENOENT);
		CHECK_SYS(close(fd));
		printf("note: AT_EMPTY_PATH linkat not permitted here (ENOENT)\n");
	}

	/* O_TMPFILE | O_EXCL can never be linked. */
	fd = CHECK_SYS(open(SHADOW "/dir", O_TMPFILE | O_WRONLY | O_EXCL, 0600));
	write_str(fd, "never named\n");
	proc = xasprintf("/proc/self/fd/%d", fd);
	CHECK_ERR(linkat(AT_FDCWD, proc, AT_FDCWD, SHADOW "/dir/three", AT_SYMLINK_FOLLOW), ENOENT);
	CHECK_SYS(close(fd));
	EXPECT_MISSING(SHADOW "/dir/three");

	/* An unnamed tmpfile leaves nothing behind. */
	fd = CHECK_SYS(open(SHADOW "/dir", O_TMPFILE | O_WRONLY, 0600));
	write_str(fd, "discarded\n");
	CHECK_SYS(close(fd));
	return 0;
}
