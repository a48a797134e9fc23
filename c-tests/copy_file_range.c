// copy_file_range: into a shadowed fd from a real file and from a shadowed file.
#include "check.h"

int main(void)
{
	char *src = xasprintf("%s/src", test_tmp());
	write_file(src, "0123456789abcdef");
	write_file(SHADOW "/ssrc", "SHADOWED-SOURCE\n");

	int in = CHECK_SYS(open(src, O_RDONLY));
	int out = CHECK_SYS(open(SHADOW "/dst", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(out, "[");

	/* Using and advancing both file offsets. */
	CHECK_EQ(lseek(in, 4, SEEK_SET), 4);
	CHECK_EQ(copy_file_range(in, NULL, out, NULL, 6, 0), 6);
	CHECK_EQ(lseek(in, 0, SEEK_CUR), 10);
	CHECK_EQ(lseek(out, 0, SEEK_CUR), 7);

	/* With explicit offsets: the fd offsets stay put. */
	loff_t ioff = 0, ooff = 20;
	CHECK_EQ(copy_file_range(in, &ioff, out, &ooff, 4, 0), 4);
	CHECK_EQ(ioff, 4);
	CHECK_EQ(ooff, 24);
	CHECK_EQ(lseek(out, 0, SEEK_CUR), 7);
	write_str(out, "]");

	/* From a shadowed source (read from the primary, written to both). */
	int sin = CHECK_SYS(open(SHADOW "/ssrc", O_RDONLY));
	CHECK_EQ(copy_file_range(sin, NULL, out, NULL, 8, 0), 8);
	CHECK_EQ(lseek(sin, 0, SEEK_CUR), 8);
	CHECK_SYS(close(sin));
	CHECK_SYS(close(in));
	CHECK_SYS(close(out));
	EXPECT_FILE_BYTES(SHADOW "/dst", "[456789]SHADOWED\0\0\0\0" "0123", 24);
	EXPECT_FILE(src, "0123456789abcdef");
	return 0;
}
