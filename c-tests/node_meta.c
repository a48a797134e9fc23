// node_meta: metadata changed through the fd of a FIFO or a device node under the prefix
// (fchmod, fchown, fchownat with AT_EMPTY_PATH) reaches both members: the follower's node
// by the name the kernel gives it now. These fds are not the shim's (a FIFO's I/O must
// stay the kernel's: a write may block for ever), and before, such changes reached the
// primary alone. The FIFO's data still flows as natively. A copy of such an fd (dup, dup2,
// F_DUPFD) is one too, and times set through one (futimens, futimes, utimensat on the fd)
// reach the follower's node exactly, "now" included; before, both reached the primary alone.
// A symlink held by an O_PATH | O_NOFOLLOW fd is such a node too (fchownat and utimensat
// with AT_EMPTY_PATH change the link itself), and linkat(fd, "", AT_EMPTY_PATH) of a node's
// fd links both members' nodes (before: the primary's owner alone changed, linkat EXDEV).
#include "check.h"

#include <sys/sysmacros.h>
#include <sys/time.h>

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

	// Copies of a node's fd.
	CHECK_SYS(mkfifo(SHADOW "/fifo2", 0644));
	int orig = CHECK_SYS(open(SHADOW "/fifo2", O_RDWR));
	int copy = CHECK_SYS(dup(orig));
	CHECK_SYS(close(orig));
	CHECK_SYS(fchmod(copy, 0620));
	same_meta(SHADOW "/fifo2", 0620, 0);
	int spare = CHECK_SYS(open("/dev/null", O_RDONLY));
	CHECK_SYS(dup2(copy, spare));
	CHECK_SYS(fchmod(spare, 0622));
	same_meta(SHADOW "/fifo2", 0622, 0);
	int high = CHECK_SYS(fcntl(copy, F_DUPFD_CLOEXEC, 100));
	CHECK_SYS(fchown(high, 3, 3));
	same_meta(SHADOW "/fifo2", 0622, 3);

	// Times through a node's fd: explicit, then "now" (one now on both members).
	struct timespec t[2] = { { 1000000, 5 }, { 2000000, 7 } };
	CHECK_SYS(futimens(high, t));
	struct timeval tv[2] = { { 3000000, 1 }, { 4000000, 2 } };
	CHECK_SYS(futimes(spare, tv));
	struct stat p = xstat(member_path("primary", SHADOW "/fifo2"));
	struct stat s = xstat(member_path("secondary", SHADOW "/fifo2"));
	CHECK_EQ(p.st_mtim.tv_sec, 4000000);
	CHECK_EQ(s.st_mtim.tv_sec, 4000000);
	CHECK_EQ(s.st_mtim.tv_nsec, p.st_mtim.tv_nsec);
	CHECK_EQ(s.st_atim.tv_sec, 3000000);
	CHECK_SYS(futimens(copy, NULL));
	p = xstat(member_path("primary", SHADOW "/fifo2"));
	s = xstat(member_path("secondary", SHADOW "/fifo2"));
	CHECK(p.st_mtim.tv_sec > 4000000);
	CHECK_EQ(s.st_mtim.tv_sec, p.st_mtim.tv_sec);
	CHECK_EQ(s.st_mtim.tv_nsec, p.st_mtim.tv_nsec);
	CHECK_EQ(s.st_atim.tv_nsec, p.st_atim.tv_nsec);

	// A node's number taken over by an fd outside the prefix (the primary's own node, opened
	// by its real path) is no node's: a change through it is the primary's alone.
	int direct = CHECK_SYS(open(member_path("primary", SHADOW "/fifo2"), O_RDWR));
	CHECK_SYS(dup2(direct, spare));
	CHECK_SYS(fchmod(spare, 0600));
	CHECK_EQ(xstat(member_path("primary", SHADOW "/fifo2")).st_mode & 07777, 0600);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/fifo2")).st_mode & 07777, 0622);
	CHECK_SYS(fchmod(high, 0622));
	same_meta(SHADOW "/fifo2", 0622, 3);

	// A node's fd linked by AT_EMPTY_PATH.
	CHECK_SYS(linkat(high, "", AT_FDCWD, SHADOW "/fifo3", AT_EMPTY_PATH));
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/fifo3")).st_nlink, 2);

	// A symlink held by an O_PATH fd: the link itself changes, on both members.
	CHECK_SYS(symlink("target", SHADOW "/link"));
	int lfd = CHECK_SYS(open(SHADOW "/link", O_PATH | O_NOFOLLOW));
	CHECK_SYS(fchownat(lfd, "", 5, 5, AT_EMPTY_PATH));
	int lcopy = CHECK_SYS(dup(lfd));
	CHECK_SYS(fchownat(lcopy, "", 6, 6, AT_EMPTY_PATH));
	CHECK_SYS(utimensat(lcopy, "", t, AT_EMPTY_PATH));
	CHECK_SYS(linkat(lfd, "", AT_FDCWD, SHADOW "/link2", AT_EMPTY_PATH));
	struct stat lp, ls;
	CHECK_SYS(lstat(member_path("primary", SHADOW "/link2"), &lp));
	CHECK_SYS(lstat(member_path("secondary", SHADOW "/link2"), &ls));
	CHECK(S_ISLNK(ls.st_mode));
	CHECK_EQ(lp.st_uid, 6);
	CHECK_EQ(ls.st_uid, 6);
	CHECK_EQ(ls.st_nlink, 2);
	CHECK_EQ(lp.st_mtim.tv_sec, 2000000);
	CHECK_EQ(ls.st_mtim.tv_sec, 2000000);
	CHECK_EQ(ls.st_mtim.tv_nsec, 7);
	return 0;
}
