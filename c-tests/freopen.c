// freopen: onto another shadowed file, onto a file outside the prefix, with a NULL path (a
// new mode for the same file), of stdout redirected into the prefix, and of a read-only
// stream: the bytes land where natively (before: the new file stayed empty, and the
// NULL-path and outside cases crashed inside glibc, which cannot reopen the shim's
// fopencookie streams), and the stream freopen returns is the one it was given. A stream
// reopened to read (stdin as `uniq FILE` does, or one of the program's) goes on being the
// program's stream, reading the file, with its fd the shadowed file's (before, the
// program's stream was freed and a new one returned: reads through stdin failed EBADF);
// stdin reopened to write is mirrored, as stdout is; one of the program's own streams
// reopened to write stays the program's, and what it writes reaches both members by its
// close (before, it was freed and a stream of the shim's returned).
#include "check.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Writes `first` to `path` (mode "w"), freopens the stream onto `again` (NULL: the same
 * file) with `mode`, checks it is the same stream, and writes `second` through it. */
static void write_reopen_write(const char *path, const char *first, const char *again, const char *mode, const char *second)
{
	FILE *f = CHECK_PTR(fopen(path, "w"));
	fputs(first, f);
	FILE *g = CHECK_PTR(freopen(again, mode, f));
	CHECK(g == f);
	fputs(second, g);
	CHECK_SYS(fclose(g));
}

int main(void)
{
	FILE *f;
	write_reopen_write(SHADOW "/re", "first\n", SHADOW "/re2", "w", "second\n");
	EXPECT_FILE(SHADOW "/re", "first\n");
	EXPECT_FILE(SHADOW "/re2", "second\n");

	write_reopen_write(SHADOW "/mode", "1", NULL, "a", "2");
	EXPECT_FILE(SHADOW "/mode", "12");

	char *out = xasprintf("%s/outside", test_tmp());
	write_reopen_write(SHADOW "/before-out", "in\n", out, "w", "out\n");
	EXPECT_FILE(SHADOW "/before-out", "in\n");
	EXPECT_FILE(out, "out\n");

	write_file(SHADOW "/ro", "read me\n");
	f = CHECK_PTR(fopen(SHADOW "/ro", "r"));
	f = CHECK_PTR(freopen(SHADOW "/from-ro", "w", f));
	fputs("written\n", f);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(SHADOW "/from-ro", "written\n");

	/* Reopened to read, whatever freopen returns, the program reads its own stream. */
	write_file(SHADOW "/input", "line one\nline two\n");
	char line[64];
	CHECK(freopen(SHADOW "/input", "r", stdin) == stdin);
	CHECK_EQ(fileno(stdin), 0);
	CHECK_PTR(fgets(line, sizeof line, stdin));
	CHECK_STREQ(line, "line one\n");
	CHECK_SYS(fchmod(fileno(stdin), 0600));	/* through the fd: on both members */
	char *plain = xasprintf("%s/plain", test_tmp());
	write_file(plain, "outside\n");
	FILE *p = CHECK_PTR(fopen(plain, "r"));
	CHECK(freopen(SHADOW "/input", "r", p) == p);
	CHECK_PTR(fgets(line, sizeof line, p));
	CHECK_STREQ(line, "line one\n");
	CHECK_SYS(fclose(p));
	/* One of the program's own streams reopened to write, onto a longer file: the program
	 * goes on with its pointer, and the file is emptied and written on both members. */
	write_file(SHADOW "/heap-written", "a longer file than what is written next\n");
	FILE *mine = CHECK_PTR(fopen(plain, "w"));
	CHECK(freopen(SHADOW "/heap-written", "w", mine) == mine);
	CHECK(fputs("through my own pointer\n", mine) >= 0);
	CHECK_SYS(fclose(mine));
	EXPECT_FILE(SHADOW "/heap-written", "through my own pointer\n");
	mine = CHECK_PTR(fopen(plain, "r"));
	CHECK(freopen(SHADOW "/heap-written", "a", mine) == mine);
	CHECK(fputs("appended\n", mine) >= 0);
	CHECK_SYS(fclose(mine));
	EXPECT_FILE(SHADOW "/heap-written", "through my own pointer\nappended\n");
	mine = CHECK_PTR(fopen(plain, "r"));
	CHECK(freopen(SHADOW "/heap-written", "w", mine) == mine);
	CHECK(fputs("0123456789", mine) >= 0);
	CHECK_SYS(fflush(mine));
	CHECK_SYS(fseek(mine, 0, SEEK_SET));
	CHECK(fputs("AB", mine) >= 0);	/* over bytes both members hold already */
	CHECK_SYS(fclose(mine));
	EXPECT_FILE(SHADOW "/heap-written", "AB23456789");
	/* Reopened to read, then with a NULL path to write: glibc reopens /proc/self/fd. */
	mine = CHECK_PTR(fopen(plain, "r"));
	CHECK(freopen(SHADOW "/heap-written", "r", mine) == mine);
	CHECK_PTR(fgets(line, sizeof line, mine));
	CHECK(freopen(NULL, "w", mine) == mine);
	CHECK(fputs("rewritten\n", mine) >= 0);
	CHECK_SYS(fclose(mine));
	EXPECT_FILE(SHADOW "/heap-written", "rewritten\n");

	/* A fork child that leaves by _exit while its parent holds such a stream reports
	 * nothing: the parent levels the file at its close. */
	mine = CHECK_PTR(fopen(plain, "r"));
	CHECK(freopen(SHADOW "/heap-written", "w", mine) == mine);
	CHECK(fputs("parent\n", mine) >= 0);
	CHECK_SYS(fflush(mine));
	pid_t child = CHECK_SYS(fork());
	if (child == 0)
		_exit(0);
	wait_ok_at(HERE, child);
	CHECK(fputs("parent again\n", mine) >= 0);
	CHECK_SYS(fclose(mine));
	EXPECT_FILE(SHADOW "/heap-written", "parent\nparent again\n");

	/* A write the kernel refuses while fclose writes the buffer out: fclose says so. */
	child = CHECK_SYS(fork());
	if (child == 0) {
		signal(SIGXFSZ, SIG_IGN);
		mine = CHECK_PTR(fopen(plain, "r"));
		CHECK(freopen(SHADOW "/too-large", "w", mine) == mine);
		struct rlimit small = { 10, RLIM_INFINITY };
		CHECK_SYS(setrlimit(RLIMIT_FSIZE, &small));
		CHECK(fputs("more than ten bytes\n", mine) >= 0);
		errno = 0;
		CHECK(fclose(mine) == EOF && errno == EFBIG);
		exit(0);
	}
	wait_ok_at(HERE, child);
	CHECK(freopen(SHADOW "/stdin-written", "w", stdin) == stdin);
	CHECK(fputs("into stdin\n", stdin) >= 0);
	CHECK_SYS(fflush(stdin));
	EXPECT_FILE(SHADOW "/stdin-written", "into stdin\n");

	/* stdout redirected into the prefix, then given binary mode (a common idiom): glibc
	 * reopens the file with "wb", which truncates it. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int fd = CHECK_SYS(open(SHADOW "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		CHECK_SYS(dup2(fd, 1));
		CHECK_SYS(close(fd));
		printf("before\n");
		fflush(stdout);
		CHECK_PTR(freopen(NULL, "wb", stdout));
		printf("after\n");
		exit(0);
	}
	wait_ok_at(HERE, pid);
	EXPECT_FILE(SHADOW "/stdout", "after\n");
	return 0;
}
