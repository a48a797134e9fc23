// mount_refused: glibc's mount, umount, umount2, swapon, swapoff and acct on a path under
// the prefix are refused (ENOSYS) and reported (00120), as their system calls made through
// syscall(2) are (raw_syscall_paths.c) and chroot is (chroot_refused.c): a mount on the
// lead's directory shows on one member alone. Before, the wrappers went to the kernel: an
// absolute path under the prefix failed ENOENT, and with the cwd there a relative one
// mounted a tmpfs over the primary's directory alone, so what the program then wrote
// there reached neither member's disk. A bind mount's source counts too; a mount's device
// name, or any path outside the prefix, is the kernel's.
// expect-history: ^00120 .*\[mount on (/shadow/)?(mnt|src): not mirrored, refused with ENOSYS\]$
// expect-history: ^00120 .*\[umount on /shadow/mnt: not mirrored, refused with ENOSYS\]$
// expect-history: ^00120 .*\[umount2 on /shadow/mnt: not mirrored, refused with ENOSYS\]$
// expect-history: ^00120 .*\[swapon on /shadow/swap: not mirrored, refused with ENOSYS\]$
// expect-history: ^00120 .*\[swapoff on /shadow/swap: not mirrored, refused with ENOSYS\]$
// expect-history: ^00120 .*\[acct on /shadow/acct: not mirrored, refused with ENOSYS\]$
#include "check.h"
#include <sys/mount.h>
#include <sys/swap.h>

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/mnt", 0755));
	CHECK_SYS(mkdir(SHADOW "/src", 0755));
	write_file(SHADOW "/swap", "");
	write_file(SHADOW "/acct", "");

	CHECK_ERR(mount("none", SHADOW "/mnt", "tmpfs", 0, NULL), ENOSYS);
	CHECK_SYS(chdir(SHADOW));
	CHECK_ERR(mount("none", "mnt", "tmpfs", 0, NULL), ENOSYS);
	CHECK_ERR(mount("src", "/nonexistent-libshadow-dir", NULL, MS_BIND, NULL), ENOSYS);
	/* A device name is no path, even with the cwd under the prefix: the kernel's answer. */
	CHECK_ERR(mount("none", "/nonexistent-libshadow-dir", "tmpfs", 0, NULL), ENOENT);
	CHECK_ERR(umount(SHADOW "/mnt"), ENOSYS);
	CHECK_ERR(umount2(SHADOW "/mnt", MNT_DETACH), ENOSYS);
	CHECK_ERR(swapon(SHADOW "/swap", 0), ENOSYS);
	CHECK_ERR(swapoff(SHADOW "/swap"), ENOSYS);
	CHECK_ERR(acct(SHADOW "/acct"), ENOSYS);

	/* Nothing was mounted: a file made there is on both members. */
	write_file(SHADOW "/mnt/f", "on both\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/mnt/f"), "on both\n");
	return 0;
}
