// fork_writer: parent and child write through an inherited fd, with and without O_APPEND.
#include "check.h"

/* Parent and child take turns, handing over with a byte on a pipe, so the
 * result is deterministic: writes through the shared open file share one offset. */
static void take_turns(const char *path, int flags)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC | flags, 0644));
	int to_child[2], to_parent[2];
	char tok;

	CHECK_SYS(pipe(to_child));
	CHECK_SYS(pipe(to_parent));
	write_str(fd, "P0\n");
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			CHECK_EQ(read(to_child[0], &tok, 1), 1);
			char *s = xasprintf("C%d\n", i);
			write_str(fd, s);
			CHECK_EQ(write(to_parent[1], "t", 1), 1);
		}
		CHECK_SYS(close(fd));
		_exit(0);
	}
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(write(to_child[1], "t", 1), 1);
		CHECK_EQ(read(to_parent[0], &tok, 1), 1);
		char *s = xasprintf("P%d\n", i + 1);
		write_str(fd, s);
	}
	wait_ok(pid);
	/* The child's close must not affect the parent's descriptor. */
	write_str(fd, "end\n");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3 * 7 + 4);
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "P0\nC0\nP1\nC1\nP2\nC2\nP3\nend\n");
	for (int i = 0; i < 2; i++) {
		close(to_child[i]);
		close(to_parent[i]);
	}
}

int main(void)
{
	take_turns(SHADOW "/fork-shared-offset", 0);
	take_turns(SHADOW "/fork-append", O_APPEND);

	/* A child that opens its own file after fork. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_file(SHADOW "/from-child", "child\n");
		_exit(0);
	}
	wait_ok(pid);
	EXPECT_FILE(SHADOW "/from-child", "child\n");

	/* vfork + _exit after a write through the inherited fd. */
	int fd = CHECK_SYS(open(SHADOW "/vfork", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (write(fd, "vchild\n", 7) != 7)
			_exit(1);
		_exit(0);
	}
	wait_ok(pid);
	write_str(fd, "vparent\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/vfork", "vchild\nvparent\n");
	return 0;
}
