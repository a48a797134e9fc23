// lseek_holes: lseek past EOF and write, leaving a hole; check size and zeros.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/sparse";
	char want[1024 * 1024 + 4] = {0};
	int fd;

	fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "head");
	CHECK_EQ(lseek(fd, 1024 * 1024, SEEK_SET), 1024 * 1024);
	write_str(fd, "tail");
	CHECK_EQ(file_size(path), 1024 * 1024 + 4);

	/* SEEK_END and SEEK_CUR on the shadowed fd. */
	CHECK_EQ(lseek(fd, 0, SEEK_END), 1024 * 1024 + 4);
	CHECK_EQ(lseek(fd, -4, SEEK_CUR), 1024 * 1024);
	char buf[5] = {0};
	CHECK_EQ(read(fd, buf, 4), 4);
	CHECK_STREQ(buf, "tail");

	/* A write in the middle of the hole. */
	CHECK_EQ(lseek(fd, 4096, SEEK_SET), 4096);
	write_str(fd, "mid");
	CHECK_SYS(close(fd));

	memcpy(want, "head", 4);
	memcpy(want + 4096, "mid", 3);
	memcpy(want + 1024 * 1024, "tail", 4);
	EXPECT_FILE_BYTES(path, want, sizeof want);

	/* pwrite beyond EOF extends without moving the offset. */
	fd = CHECK_SYS(open(path, O_WRONLY));
	CHECK_EQ(pwrite(fd, "far", 3, 2 * 1024 * 1024), 3);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	CHECK_SYS(close(fd));
	CHECK_EQ(file_size(path), 2 * 1024 * 1024 + 3);
	return 0;
}
