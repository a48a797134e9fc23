// sendfile: into a shadowed fd from a real file and from a shadowed file.
#include "check.h"

#include <sys/sendfile.h>

int main(void)
{
	char *src = xasprintf("%s/src", test_tmp());
	write_file(src, "0123456789abcdef");
	write_file(SHADOW "/ssrc", "SHADOWED-SOURCE\n");

	int in = CHECK_SYS(open(src, O_RDONLY));
	int out = CHECK_SYS(open(SHADOW "/dst", O_WRONLY | O_CREAT | O_TRUNC, 0644));

	/* NULL offset: uses and advances the input's file offset. */
	CHECK_EQ(lseek(in, 10, SEEK_SET), 10);
	CHECK_EQ(sendfile(out, in, NULL, 6), 6);
	CHECK_EQ(lseek(in, 0, SEEK_CUR), 16);
	CHECK_EQ(lseek(out, 0, SEEK_CUR), 6);

	/* Explicit offset: input offset unchanged, output offset advances. */
	off_t off = 0;
	CHECK_EQ(sendfile(out, in, &off, 4), 4);
	CHECK_EQ(off, 4);
	CHECK_EQ(lseek(in, 0, SEEK_CUR), 16);

	/* From a shadowed source. */
	int sin = CHECK_SYS(open(SHADOW "/ssrc", O_RDONLY));
	off = 9;
	CHECK_EQ(sendfile(out, sin, &off, 7), 7);
	CHECK_EQ(sendfile(out, sin, NULL, 8), 8);
	CHECK_SYS(close(sin));
	CHECK_SYS(close(in));
	CHECK_SYS(close(out));
	EXPECT_FILE(SHADOW "/dst", "abcdef0123SOURCE\nSHADOWED");
	return 0;
}
