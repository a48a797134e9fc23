// raw_syscall_paths: syscall(2) with a path under the prefix is translated like its libc
// wrapper (fsx calls SYS_statx); a path call the shim has no mirrored form for is refused
// with ENOSYS and reported (00120), never run with a virtual path.
// expect-history: ^00120 .*system call 165 on /shadow/mnt: not mirrored
#include "check.h"

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

int main(void)
{
	struct stat st;
	struct statx sx;
	write_file(SHADOW "/f", "0123456789");
	CHECK_EQ(syscall(SYS_statx, AT_FDCWD, SHADOW "/f", 0, STATX_SIZE, &sx), 0);
	CHECK_EQ(sx.stx_size, 10);
	CHECK_EQ(syscall(SYS_newfstatat, AT_FDCWD, SHADOW "/f", &st, 0), 0);
	CHECK_EQ(st.st_size, 10);
	CHECK_EQ(syscall(SYS_stat, SHADOW "/f", &st), 0);
	CHECK_EQ(syscall(SYS_lstat, SHADOW "/f", &st), 0);
	CHECK_EQ(syscall(SYS_faccessat, AT_FDCWD, SHADOW "/f", R_OK), 0);
	CHECK_EQ(syscall(SYS_faccessat2, AT_FDCWD, SHADOW "/f", R_OK, AT_EACCESS), 0);
	CHECK_EQ(syscall(SYS_access, SHADOW "/f", W_OK), 0);
	CHECK_EQ(syscall(SYS_symlinkat, "f", AT_FDCWD, SHADOW "/l"), 0);
	char buf[16] = { 0 };
	CHECK_EQ(syscall(SYS_readlinkat, AT_FDCWD, SHADOW "/l", buf, sizeof buf), 1);
	CHECK_STREQ(buf, "f");
	CHECK_EQ(syscall(SYS_fchownat, AT_FDCWD, SHADOW "/f", 1, 2, 0), 0);
	CHECK_EQ(xstat(SHADOW "/f").st_uid, 1);
	struct timespec ts[2] = { { 1000000000, 5 }, { 1000000001, 7 } };
	CHECK_EQ(syscall(SYS_utimensat, AT_FDCWD, SHADOW "/f", ts, 0), 0);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/f")).st_mtim.tv_nsec, 7);
	CHECK_EQ(syscall(SYS_fchmodat, AT_FDCWD, SHADOW "/f", 0600), 0);
	CHECK_EQ(syscall(SYS_truncate, SHADOW "/f", 4), 0);
	CHECK_EQ(syscall(SYS_setxattr, SHADOW "/f", "user.k", "v", 1, 0), 0);
	CHECK_EQ(syscall(SYS_getxattr, SHADOW "/f", "user.k", buf, sizeof buf), 1);
	CHECK_EQ(syscall(SYS_mknodat, AT_FDCWD, SHADOW "/fifo", S_IFIFO | 0600, 0), 0);
	CHECK_EQ(syscall(SYS_renameat2, AT_FDCWD, SHADOW "/fifo", AT_FDCWD, SHADOW "/fifo2", RENAME_NOREPLACE), 0);
	CHECK_EQ(syscall(SYS_linkat, AT_FDCWD, SHADOW "/f", AT_FDCWD, SHADOW "/hard", 0), 0);
	CHECK_EQ(syscall(SYS_rename, SHADOW "/hard", SHADOW "/hard2"), 0);
	CHECK_EQ(syscall(SYS_mkdir, SHADOW "/d", 0700), 0);
	CHECK_EQ(syscall(SYS_chdir, SHADOW "/d"), 0);
	CHECK_EQ(syscall(SYS_getcwd, buf, sizeof buf), (long)strlen(SHADOW "/d") + 1);
	CHECK_STREQ(buf, SHADOW "/d");
	CHECK_EQ(syscall(SYS_chdir, "/"), 0);
	CHECK_EQ(syscall(SYS_rmdir, SHADOW "/d"), 0);

	struct open_how how = { .flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0640, .resolve = RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, SHADOW "/o2", &how, sizeof how);
	CHECK(fd >= 0);
	CHECK_EQ(syscall(SYS_write, fd, "openat2\n", 8), 8);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/o2", "openat2\n");

	/* No mirrored form: refused, reported, never run on one member. */
	CHECK_SYS(mkdir(SHADOW "/mnt", 0755));
	CHECK_ERR(syscall(SYS_mount, "none", SHADOW "/mnt", "tmpfs", 0, NULL), ENOSYS);
	/* Outside the prefix it is the kernel's to answer. */
	CHECK_ERR(syscall(SYS_mount, "none", "/nonexistent-libshadow-dir", "tmpfs", 0, NULL), ENOENT);
	return 0;
}
