// inherited_tmpfile_writer: an O_TMPFILE file is unnamed but can still be linked into the
// tree (linkat of its fd). A child that inherits it across exec (execlp, PATH searched by
// libc) and writes to it writes both members' files: the follower's twin has no name to
// reopen it by, so the image before the exec carries its fd across; once the parent links
// the file, both members hold what the child wrote. Before 2026-12-06 the child wrote the
// lead's alone and reported it (00020 "inherited after unlink", recover due), and an
// O_TMPFILE | O_EXCL file, which can never be linked, was reported the same way (Python's
// TemporaryFile as a subprocess's stdout: helper-55, CPython's test_subprocess).
#include "check.h"

static void child_writes(int fd, const char *text)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(dup2(fd, 7));
		char *cmd = xasprintf("printf '%s' >&7", text);
		execlp("sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW, O_TMPFILE | O_RDWR, 0644));
	child_writes(fd, "from a child\n");
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	CHECK_SYS(linkat(AT_FDCWD, proc, AT_FDCWD, SHADOW "/linked", AT_SYMLINK_FOLLOW));
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/linked", "from a child\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/linked"), "from a child\n");

	/* Never linkable: written by a child, read back, nothing reported. */
	fd = CHECK_SYS(open(SHADOW, O_TMPFILE | O_EXCL | O_RDWR, 0600));
	child_writes(fd, "scratch\n");
	char buf[16] = { 0 };
	CHECK_EQ(pread(fd, buf, sizeof buf - 1, 0), 8);
	CHECK_STREQ(buf, "scratch\n");
	CHECK_SYS(close(fd));
	return 0;
}
