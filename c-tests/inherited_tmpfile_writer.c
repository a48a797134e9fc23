// inherited_tmpfile_writer: an O_TMPFILE file is unnamed but can still be linked into the
// tree (linkat of its fd). A child that inherits it and writes to it writes the lead's
// file alone (the follower's has no name to reopen it by), so once the parent links it,
// the members differ: that stays reported (00020, by each process that inherits it) with
// recover due, unlike a file whose last name was removed (inherited_unlinked_writer.c).
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/#[0-9]+ \(deleted\)\]\[[^]]*/secondary/#[0-9]+ \(deleted\)\]\[inherited after unlink: No such file or directory\]$
#include "check.h"

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW, O_TMPFILE | O_RDWR, 0644));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(dup2(fd, 7));
		execlp("sh", "sh", "-c", "echo from a child >&7", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	CHECK_SYS(linkat(AT_FDCWD, proc, AT_FDCWD, SHADOW "/linked", AT_SYMLINK_FOLLOW));
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/linked", "from a child\n");
	printf("an O_TMPFILE file written by an inheriting child, then linked: reported\n");
	return 0;
}
