// append_two_fds: two independent O_APPEND opens, interleaved writes.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/append.log";
	int a, b;

	write_file(path, "start\n");
	a = CHECK_SYS(open(path, O_WRONLY | O_APPEND));
	b = CHECK_SYS(open(path, O_WRONLY | O_APPEND));
	for (int i = 0; i < 5; i++) {
		write_str(a, "a\n");
		write_str(b, "bb\n");
	}
	/* lseek does not matter for O_APPEND writes. */
	CHECK_EQ(lseek(a, 0, SEEK_SET), 0);
	write_str(a, "end\n");
	CHECK_EQ(lseek(a, 0, SEEK_CUR), 6 + 5 * 5 + 4);
	CHECK_SYS(close(a));
	CHECK_SYS(close(b));
	EXPECT_FILE(path, "start\na\nbb\na\nbb\na\nbb\na\nbb\na\nbb\nend\n");
	return 0;
}
