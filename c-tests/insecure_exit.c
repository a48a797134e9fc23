// insecure_exit: a file whose follower refused a write is reported (00020) when its
// process leaves by _exit too (a forked worker; dash always leaves so). _exit runs no exit
// handlers, and the report was made only at the file's last close or at exit: the members
// differed with nothing in the history (status said recover was due). Then the report
// ended the file's intent, so recover was no longer due: it stays due now. The follower's file
// is made immutable while the child holds it open, so its next write fails EPERM there.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/f\]\[[^]]*/secondary/f\]\[.*Operation not permitted.*\]$
#include "check.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

static void immutable(const char *path, int on)
{
	int fd = CHECK_SYS(open(path, O_RDONLY));
	int flags;
	CHECK_SYS(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
		fprintf(stderr, "insecure_exit: cannot make %s immutable here (%s): the test needs a file system with inode flags\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

int main(void)
{
	int opened[2], written[2];
	CHECK_SYS(pipe(opened));
	CHECK_SYS(pipe(written));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_str(fd, "both\n");
		CHECK_SYS(fsync(fd)); /* on the follower too, queued or not */
		char c = 'x';
		CHECK(write(opened[1], &c, 1) == 1 && read(written[0], &c, 1) == 1);
		write_str(fd, "primary only\n");
		_exit(0);
	}
	char c;
	CHECK(read(opened[0], &c, 1) == 1);
	const char *secondary = member_path("secondary", SHADOW "/f");
	immutable(secondary, 1);
	CHECK(write(written[1], "x", 1) == 1);
	wait_ok(pid);
	immutable(secondary, 0);
	EXPECT_FILE(SHADOW "/f", "both\nprimary only\n");
	EXPECT_FILE(secondary, "both\n");
	return 0;
}
