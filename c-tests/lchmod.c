// lchmod: glibc changes the mode through an O_PATH fd with internal calls; the shim makes
// the change on both members (a file) or gives the kernel's answer (a symlink). Also the
// fd's own mode and owner with AT_EMPTY_PATH (fchmodat2, fchownat), through a plain fd and
// an O_PATH one (before: EINVAL and EBADF, where natively both succeed).
#include "check.h"

#include <sys/syscall.h>

int lchmod(const char *path, mode_t mode);

int main(void)
{
	write_file(SHADOW "/f", "x");
	CHECK_SYS(lchmod(SHADOW "/f", 0640));
	CHECK_EQ(xstat(SHADOW "/f").st_mode & 07777, 0640);
	CHECK_SYS(chdir(SHADOW));
	CHECK_SYS(lchmod("f", 0604));
	CHECK_EQ(xstat(SHADOW "/f").st_mode & 07777, 0604);
	CHECK_SYS(symlink("f", SHADOW "/l"));
	CHECK_ERR(lchmod("l", 0600), EOPNOTSUPP);
	CHECK_SYS(fchmodat(AT_FDCWD, "f", 0600, AT_SYMLINK_NOFOLLOW));
	CHECK_EQ(xstat(SHADOW "/f").st_mode & 07777, 0600);
	/* fchmodat2, the system call with flags. */
	CHECK_EQ(syscall(452, AT_FDCWD, "f", 0644, 0), 0);
	CHECK_EQ(xstat(SHADOW "/f").st_mode & 07777, 0644);

	int fd = CHECK_SYS(open("f", O_RDONLY));
	int path_fd = CHECK_SYS(open("f", O_PATH));
	CHECK_EQ(syscall(452, fd, "", 0620, AT_EMPTY_PATH), 0);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/f")).st_mode & 07777, 0620);
	CHECK_EQ(syscall(452, path_fd, "", 0602, AT_EMPTY_PATH), 0);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/f")).st_mode & 07777, 0602);
	CHECK_SYS(fchownat(path_fd, "", getuid(), 0, AT_EMPTY_PATH));
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/f")).st_gid, 0);
	CHECK_SYS(close(path_fd));
	CHECK_SYS(close(fd));
	return 0;
}
