// bad_pointers: a path pointer the kernel refuses (NULL, unmapped) gets EFAULT from every
// hook, as natively, never a crash inside the shim; a string with no NUL within PATH_MAX
// gets ENAMETOOLONG. Two-path calls with one bad pointer get EFAULT, not EXDEV. The data
// writes on a shadowed fd from a NULL or unmapped buffer get EFAULT too (pwrite from NULL
// wrote 0 bytes and succeeded before 2026-12-04: a loop retrying short writes spun).
#include "check.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>

#define BAD ((const char *)0xDEADC0DEul)
/* Hidden from the compiler's nonnull checks. */
static const char *volatile null_path = NULL;

int main(void)
{
	struct stat st;
	char buf[64];
	write_file(SHADOW "/f", "x");
	const char *bads[] = { BAD, NULL };
	for (int i = 0; i < 2; i++) {
		const char *b = bads[i];
		CHECK_ERR(open(b, O_RDONLY), EFAULT);
		CHECK_ERR(open(b, O_WRONLY | O_CREAT, 0644), EFAULT);
		CHECK_ERR(openat(AT_FDCWD, b, O_RDONLY), EFAULT);
		CHECK_ERR(creat(b, 0644), EFAULT);
		CHECK_ERR(mkdir(b, 0755), EFAULT);
		CHECK_ERR(rmdir(b), EFAULT);
		CHECK_ERR(unlink(b), EFAULT);
		CHECK_ERR(chmod(b, 0644), EFAULT);
		CHECK_ERR(chown(b, 0, 0), EFAULT);
		CHECK_ERR(lchown(b, 0, 0), EFAULT);
		CHECK_ERR(truncate(b, 1), EFAULT);
		CHECK_ERR(mknod(b, S_IFIFO | 0644, 0), EFAULT);
		CHECK_ERR(mkfifo(b, 0644), EFAULT);
		CHECK_ERR(stat(b, &st), EFAULT);
		CHECK_ERR(lstat(b, &st), EFAULT);
		CHECK_ERR(access(b, F_OK), EFAULT);
		CHECK_ERR(readlink(b, buf, sizeof buf), EFAULT);
		CHECK_ERR(chdir(b), EFAULT);
		CHECK_ERR(setxattr(b, "user.x", "1", 1, 0), EFAULT);
		CHECK_ERR(symlink("target", b), EFAULT);
		CHECK_ERR(link(SHADOW "/f", b), EFAULT);
		CHECK_ERR(link(b, SHADOW "/g"), EFAULT);
		CHECK_ERR(rename(SHADOW "/f", b), EFAULT);
		CHECK_ERR(rename(b, SHADOW "/g"), EFAULT);
		CHECK_ERR(syscall(SYS_statx, AT_FDCWD, b, 0, 0, buf), EFAULT);
		CHECK_ERR(syscall(SYS_mkdirat, AT_FDCWD, b, 0755), EFAULT);
	}
	CHECK_ERR(link(BAD, null_path), EFAULT);
	CHECK_ERR(rename(null_path, BAD), EFAULT);

	/* A name running into a page that is not mapped. */
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	memcpy(m + page - 8, "/shadow/", 8);
	CHECK_SYS(munmap(m + page, page));
	CHECK_ERR(open(m + page - 8, O_WRONLY | O_CREAT, 0644), EFAULT);
	CHECK_ERR(mkdir(m + page - 8, 0755), EFAULT);
	/* ... and one made unreadable after the shim may have seen it readable. */
	strcpy(m, SHADOW "/prot");
	CHECK_SYS(mkdir(m, 0755));
	CHECK_SYS(mprotect(m, page, PROT_NONE));
	CHECK_ERR(rmdir(m), EFAULT);
	CHECK_SYS(mprotect(m, page, PROT_READ | PROT_WRITE));
	CHECK_SYS(rmdir(m));

	/* No NUL within PATH_MAX: ENAMETOOLONG, as the kernel says before anything else. */
	char *longp = malloc(PATH_MAX + 16);
	memcpy(longp, SHADOW "/", strlen(SHADOW) + 1);
	memset(longp + strlen(SHADOW) + 1, 'a', PATH_MAX + 8 - strlen(SHADOW));
	longp[PATH_MAX + 8] = '\0';
	CHECK_ERR(open(longp, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
	CHECK_ERR(mkdir(longp, 0755), ENAMETOOLONG);
	/* Writes from a buffer the kernel refuses. */
	static const void *volatile null_buf = NULL;
	int fd = CHECK_SYS(open(SHADOW "/f", O_RDWR));
	CHECK_ERR(write(fd, null_buf, 8), EFAULT);
	CHECK_ERR(write(fd, BAD, 8), EFAULT);
	CHECK_ERR(pwrite(fd, null_buf, 8, 0), EFAULT);
	CHECK_ERR(pwrite(fd, BAD, 8, 0), EFAULT);
	CHECK_ERR(pwrite64(fd, null_buf, 8, 0), EFAULT);
	struct iovec bad_iov[2] = { { (void *)"y", 1 }, { (void *)null_buf, 8 } };
	CHECK_ERR(pwritev(fd, bad_iov + 1, 1, 0), EFAULT);
	CHECK_ERR(writev(fd, bad_iov + 1, 1), EFAULT);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/f", "x");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/f");
	return 0;
}
