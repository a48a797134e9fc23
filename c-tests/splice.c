// splice: pipe -> shadowed fd, with data from a real file and from a shadowed file.
#include "check.h"

int main(void)
{
	char *src = xasprintf("%s/src", test_tmp());
	write_file(src, "real-source\n");
	write_file(SHADOW "/ssrc", "shadowed-source\n");

	int p[2];
	CHECK_SYS(pipe(p));
	int out = CHECK_SYS(open(SHADOW "/dst", O_WRONLY | O_CREAT | O_TRUNC, 0644));

	/* Plain bytes written into the pipe. */
	write_str(p[1], "piped\n");
	CHECK_EQ(splice(p[0], NULL, out, NULL, 6, 0), 6);
	CHECK_EQ(lseek(out, 0, SEEK_CUR), 6);

	/* Real file -> pipe -> shadowed file. */
	int in = CHECK_SYS(open(src, O_RDONLY));
	CHECK_EQ(splice(in, NULL, p[1], NULL, 12, 0), 12);
	CHECK_EQ(splice(p[0], NULL, out, NULL, 12, 0), 12);

	/* Shadowed file -> pipe -> shadowed file at an explicit offset. */
	int sin = CHECK_SYS(open(SHADOW "/ssrc", O_RDONLY));
	loff_t ioff = 0, ooff = 40;
	CHECK_EQ(splice(sin, &ioff, p[1], NULL, 16, 0), 16);
	CHECK_EQ(ioff, 16);
	CHECK_EQ(splice(p[0], NULL, out, &ooff, 16, 0), 16);
	CHECK_EQ(ooff, 56);
	CHECK_EQ(lseek(out, 0, SEEK_CUR), 18);

	/* tee duplicates pipe data without consuming it; vmsplice feeds memory. */
	int q[2];
	CHECK_SYS(pipe(q));
	struct iovec iov = { .iov_base = "vm\n", .iov_len = 3 };
	CHECK_EQ(vmsplice(p[1], &iov, 1, 0), 3);
	CHECK_EQ(tee(p[0], q[1], 3, 0), 3);
	CHECK_EQ(splice(p[0], NULL, out, NULL, 3, 0), 3);
	CHECK_EQ(splice(q[0], NULL, out, NULL, 3, 0), 3);

	CHECK_SYS(close(sin));
	CHECK_SYS(close(in));
	CHECK_SYS(close(out));
	EXPECT_FILE_BYTES(SHADOW "/dst",
			  "piped\nreal-source\nvm\nvm\n"
			  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
			  "shadowed-source\n", 56);
	return 0;
}
