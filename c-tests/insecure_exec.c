// insecure_exec: a file whose follower refused a write, still open in a process that then
// execs with the fd inherited, is reported (00020) and leaves recover due. The old image
// never reaches the file's last close (where the report is made), and the new image ended
// the intents the old one carried once it had adopted the fds, insecure ones included: the
// members differed with nothing in the history and no recover due. The follower's file is
// made immutable while the child holds it open, so its next write fails EPERM there.
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
		fprintf(stderr, "insecure_exec: cannot make %s immutable here (%s): the test needs a file system with inode flags\n", path, strerror(errno));
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
		CHECK_SYS(fsync(fd));
		/* The fd stays open in the new image, which writes nothing and ends. */
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
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
