/* refused_write.h - a follower that refuses a write, for the tests of what becomes of an
 * insecure file when its process leaves (insecure_exit.c, insecure_exec.c). */
#ifndef LIBSHADOW_REFUSED_WRITE_H
#define LIBSHADOW_REFUSED_WRITE_H

#include "../check.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

static inline void set_immutable(const char *path, int on)
{
	int fd = CHECK_SYS(open(path, O_RDONLY));
	int flags;
	CHECK_SYS(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
		fprintf(stderr, "cannot make %s immutable here (%s): the test needs a file system with inode flags\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* A child opens SHADOW "/f" and writes "both\n" (fsynced, so on the follower too, queued
 * or not); the parent then makes the follower's file immutable, so the child's next write,
 * "primary only\n", fails EPERM there; the child then leaves by `leave(fd)`, which must
 * not return. The parent waits for it, makes the file mutable again and checks both
 * members' bytes. */
static inline void refused_write_then(void (*leave)(int fd))
{
	int opened[2], written[2];
	CHECK_SYS(pipe(opened));
	CHECK_SYS(pipe(written));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_str(fd, "both\n");
		CHECK_SYS(fsync(fd));
		char c = 'x';
		CHECK(write(opened[1], &c, 1) == 1 && read(written[0], &c, 1) == 1);
		write_str(fd, "primary only\n");
		leave(fd);
		_exit(127);
	}
	char c;
	CHECK(read(opened[0], &c, 1) == 1);
	const char *secondary = member_path("secondary", SHADOW "/f");
	set_immutable(secondary, 1);
	CHECK(write(written[1], "x", 1) == 1);
	wait_ok(pid);
	set_immutable(secondary, 0);
	EXPECT_FILE(SHADOW "/f", "both\nprimary only\n");
	EXPECT_FILE(secondary, "both\n");
}

#endif
