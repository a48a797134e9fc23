// chroot_refused: chroot into a directory under the prefix is refused (ENOSYS) and
// reported (00120), as other calls with no mirrored form are. Made in the lead's directory,
// it left every later absolute path outside the prefix as the shim sees it: all a chrooted
// program wrote (rsync's daemon with `use chroot = yes`) reached the primary alone,
// unreported. chroot elsewhere is the kernel's, and so is the answer for a path under the
// prefix that names nothing (ENOENT, ENOTDIR, unreported; before, ENOSYS with a report:
// helper-55, CPython's test_os), for chroot and for mount by syscall(2) alike.
// expect-history: ^00120 \[[^]]*/primary/jail\]\[[^]]*/secondary/jail\]\[chroot on /shadow/jail: not mirrored, refused with ENOSYS\]$
#include "check.h"

#include <sys/syscall.h>

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/jail", 0755));
	CHECK_ERR(chroot(SHADOW "/jail"), ENOSYS);
	CHECK_ERR(chroot(SHADOW "/missing"), ENOENT);
	write_file(SHADOW "/file", "a file\n");
	CHECK_ERR(chroot(SHADOW "/file/below"), ENOTDIR);
	CHECK_EQ(syscall(SYS_mount, "none", SHADOW "/missing", "tmpfs", 0L, NULL), -1L);
	CHECK_EQ(errno, ENOENT);
	write_file(SHADOW "/after", "still mirrored\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/after"), "still mirrored\n");
	// Outside the prefix: the kernel's answer (as root, a chroot into / works).
	CHECK_SYS(chroot("/"));
	return 0;
}
