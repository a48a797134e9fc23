// node_meta: metadata changed through the fd of a FIFO or a device node under the prefix
// (fchmod, fchown, fchownat with AT_EMPTY_PATH) reaches both members: the follower's node
// by the name the kernel gives it now. These fds are not the shim's (a FIFO's I/O must
// stay the kernel's: a write may block for ever), and before, such changes reached the
// primary alone. The FIFO's data still flows as natively.
#include "check.h"

#include <sys/sysmacros.h>

static void same_meta(const char *vpath, mode_t mode, uid_t uid)
{
	struct stat p = xstat(member_path("primary", vpath));
	struct stat s = xstat(member_path("secondary", vpath));
	CHECK_EQ(p.st_mode & 07777, mode);
	CHECK_EQ(s.st_mode & 07777, mode);
	CHECK_EQ(p.st_uid, uid);
	CHECK_EQ(s.st_uid, uid);
}

int main(void)
{
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0644));
	int fd = CHECK_SYS(open(SHADOW "/fifo", O_RDWR));
	CHECK_SYS(fchmod(fd, 0600));
	CHECK_SYS(fchown(fd, 1, 1));
	same_meta(SHADOW "/fifo", 0600, 1);
	CHECK_SYS(fchownat(fd, "", 2, 2, AT_EMPTY_PATH));
	same_meta(SHADOW "/fifo", 0600, 2);
	write_str(fd, "through\n");
	char buf[16];
	CHECK_EQ(read(fd, buf, sizeof buf), 8);
	CHECK_SYS(close(fd));

	// Renamed while open: the follower's node by its name now.
	CHECK_SYS(mknod(SHADOW "/null", S_IFCHR | 0666, makedev(1, 3)));
	int dev = CHECK_SYS(open(SHADOW "/null", O_WRONLY));
	CHECK_SYS(rename(SHADOW "/null", SHADOW "/null2"));
	CHECK_SYS(fchmod(dev, 0640));
	same_meta(SHADOW "/null2", 0640, 0);
	write_str(dev, "gone\n");
	CHECK_SYS(close(dev));
	return 0;
}
