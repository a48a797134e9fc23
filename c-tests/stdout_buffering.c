// stdout_buffering: stdout made line-buffered or unbuffered before fd 1 moves onto a file
// under the prefix (as stdbuf's library does before the program starts) keeps that
// buffering once the shim has swapped in its own stream: a line (or, unbuffered, any
// output) is in the file before any flush (before, the swapped stream was fully buffered
// and `stdbuf -oL prog > /shadow/log` wrote its lines late and out of order).
#include "check.h"

/* The file's contents now, without flushing stdout. */
static char *now_in(const char *path)
{
	static char buf[256];
	int fd = CHECK_SYS(open(path, O_RDONLY));
	ssize_t n = CHECK_SYS(read(fd, buf, sizeof buf - 1));
	buf[n] = 0;
	CHECK_SYS(close(fd));
	return buf;
}

static void onto(const char *path)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(dup2(fd, 1));
	CHECK_SYS(close(fd));
}

int main(void)
{
	int saved = CHECK_SYS(dup(1));
	CHECK_SYS(setvbuf(stdout, NULL, _IOLBF, 0));
	onto(SHADOW "/line");
	printf("a line\npart");
	CHECK_STREQ(now_in(SHADOW "/line"), "a line\n");
	fflush(stdout);
	CHECK_SYS(dup2(saved, 1));

	CHECK_SYS(setvbuf(stdout, NULL, _IONBF, 0));
	onto(SHADOW "/none");
	printf("part");
	CHECK_STREQ(now_in(SHADOW "/none"), "part");
	CHECK_SYS(dup2(saved, 1));
	return 0;
}
