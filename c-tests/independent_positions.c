// independent_positions: two opens of one file keep their own offsets.
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/pos";
	int a, b;

	write_file(path, "0123456789");
	a = CHECK_SYS(open(path, O_RDWR));
	b = CHECK_SYS(open(path, O_RDWR));
	CHECK_EQ(lseek(a, 2, SEEK_SET), 2);
	write_str(a, "AA");		/* a at 4 */
	write_str(b, "B");		/* over "0"; b at 1 */
	CHECK_EQ(lseek(a, 0, SEEK_CUR), 4);
	CHECK_EQ(lseek(b, 0, SEEK_CUR), 1);
	write_str(a, "CC");		/* 4..5 */
	CHECK_EQ(lseek(b, 8, SEEK_SET), 8);
	write_str(b, "DDDD");		/* extends to 12 */

	/* Reads move only their own offset. */
	char buf[3] = {0};
	CHECK_EQ(read(a, buf, 2), 2);	/* a at 6 -> 8 */
	CHECK_STREQ(buf, "67");
	write_str(a, "E");		/* overwrites position 8 */
	CHECK_SYS(close(a));
	CHECK_SYS(close(b));
	EXPECT_FILE(path, "B1AACC67EDDD");
	return 0;
}
