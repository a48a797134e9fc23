// stdio: fopen/fprintf/fputs/putc/fwrite/fflush/fclose, "a" mode, fdopen, freopen(stdout).
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/stdio.txt";
	FILE *f;

	f = CHECK_PTR(fopen(path, "w"));
	CHECK(fprintf(f, "n=%d s=%s\n", 42, "str") == 11);
	CHECK(fputs("puts\n", f) >= 0);
	CHECK_EQ(putc('c', f), 'c');
	CHECK_EQ(fputc('\n', f), '\n');
	CHECK_EQ(fwrite("fwrite\n", 1, 7, f), 7);
	CHECK_SYS(fflush(f));
	/* After fflush the data is visible to a separate reader. */
	EXPECT_FILE(path, "n=42 s=str\nputs\nc\nfwrite\n");

	/* fileno() of a shadowed FILE is a real descriptor fstat accepts. */
	int fd = fileno(f);
	CHECK(fd >= 0);
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 25);
	CHECK_EQ(ftell(f), 25);
	CHECK_SYS(fseek(f, 0, SEEK_SET));
	CHECK(fputs("N", f) >= 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(path, "N=42 s=str\nputs\nc\nfwrite\n");

	/* Append mode. */
	f = CHECK_PTR(fopen(path, "a"));
	CHECK(fprintf(f, "appended %s\n", "line") > 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(path, "N=42 s=str\nputs\nc\nfwrite\nappended line\n");

	/* "r+" reads and overwrites in place. */
	f = CHECK_PTR(fopen(path, "r+"));
	char line[64];
	CHECK_PTR(fgets(line, sizeof line, f));
	CHECK_STREQ(line, "N=42 s=str\n");
	CHECK_SYS(fseek(f, 0, SEEK_CUR));
	CHECK_EQ(fwrite("PUTS", 1, 4, f), 4);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(path, "N=42 s=str\nPUTS\nc\nfwrite\nappended line\n");

	/* fdopen on a shadowed descriptor. */
	fd = CHECK_SYS(open(SHADOW "/fdopen.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	f = CHECK_PTR(fdopen(fd, "w"));
	CHECK(fprintf(f, "via fdopen %d\n", fd) > 0);
	CHECK_SYS(fclose(f));
	EXPECT_EBADF(fd);
	char *want = xasprintf("via fdopen %d\n", fd);
	EXPECT_FILE(SHADOW "/fdopen.txt", want);

	/* A big buffered write that spans several stdio buffer flushes. */
	f = CHECK_PTR(fopen(SHADOW "/big.txt", "w"));
	for (int i = 0; i < 20000; i++)
		CHECK(fprintf(f, "%05d\n", i) == 6);
	CHECK_SYS(fclose(f));
	CHECK_EQ(file_size(SHADOW "/big.txt"), 20000 * 6);

	/* freopen stdout onto a shadowed file. */
	CHECK_PTR(freopen(SHADOW "/out", "w", stdout));
	CHECK_EQ(fileno(stdout), 1);
	printf("printf %d\n", 7);
	puts("puts");
	CHECK_SYS(fflush(stdout));
	write_str(1, "write1\n");
	CHECK_SYS(fclose(stdout));
	EXPECT_FILE(SHADOW "/out", "printf 7\nputs\nwrite1\n");
	return 0;
}
