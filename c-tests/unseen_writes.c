// unseen_writes: glibc writes to an fd with internal calls no hook sees (here
// backtrace_symbols_fd; also syslog's LOG_PERROR, a C++ stream bound to stdout before the
// shim swapped it). On an fd whose position the shim does not follow (appending, readable,
// or a standard stream), the next write the shim sees lands past the follower's end: the
// bytes between are copied from the lead first. Before, the follower got a hole there
// (NULs where the lead had the text), unreported. A seek past the end then a write leaves
// a hole on both members, as natively (nothing copied there).
#include "check.h"
#include <execinfo.h>

/* x, the backtrace (unseen), y: the lead holds all three, and so must the follower. */
static void unseen_between(int fd)
{
	void *frames[8];
	int n = backtrace(frames, 8);
	CHECK_SYS(write(fd, "x\n", 2));
	backtrace_symbols_fd(frames, n, fd);
	CHECK_SYS(write(fd, "y\n", 2));
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/appended", O_WRONLY | O_CREAT | O_APPEND, 0644));
	unseen_between(fd);
	CHECK_SYS(close(fd));

	fd = CHECK_SYS(open(SHADOW "/read-write", O_RDWR | O_CREAT, 0644));
	unseen_between(fd);
	CHECK_SYS(close(fd));

	/* Written far, cut short, then written unseen and seen below where it reached. */
	fd = CHECK_SYS(open(SHADOW "/cut-short", O_RDWR | O_CREAT, 0644));
	char far[4096];
	memset(far, 'f', sizeof far);
	CHECK_SYS(write(fd, far, sizeof far));
	CHECK_SYS(ftruncate(fd, 0));
	CHECK_SYS(lseek(fd, 0, SEEK_SET));
	unseen_between(fd);
	CHECK_SYS(close(fd));

	/* stdout moved onto a file under the prefix. */
	int saved = CHECK_SYS(dup(1));
	fd = CHECK_SYS(open(SHADOW "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(dup2(fd, 1));
	CHECK_SYS(close(fd));
	unseen_between(1);
	CHECK_SYS(dup2(saved, 1));
	CHECK_SYS(close(saved));

	/* A hole made by a seek stays a hole on the follower. */
	fd = CHECK_SYS(open(SHADOW "/sparse", O_RDWR | O_CREAT, 0644));
	CHECK_SYS(write(fd, "head", 4));
	CHECK_SYS(lseek(fd, 64 << 20, SEEK_SET));
	CHECK_SYS(write(fd, "tail", 4));
	CHECK_SYS(close(fd));
	struct stat st;
	CHECK_SYS(stat(member_path("secondary", SHADOW "/sparse"), &st));
	CHECK(st.st_blocks < 1024);
	printf("writes the shim did not see reached both members\n");
	return 0;
}
