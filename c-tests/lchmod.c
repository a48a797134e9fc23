// lchmod: glibc changes the mode through an O_PATH fd with internal calls; the shim makes
// the change on both members (a file) or gives the kernel's answer (a symlink).
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
	return 0;
}
