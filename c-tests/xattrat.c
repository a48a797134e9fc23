// xattrat: the xattr system calls by dirfd, path and AT_ flags (setxattrat, getxattrat,
// listxattrat, removexattrat: Linux 6.13), reached by syscall(2) since glibc has no wrapper,
// on an absolute virtual path, relative to a shadowed directory fd, on an fd itself
// (AT_EMPTY_PATH; an O_PATH one is EBADF, as natively) and through /proc/self/fd/N of an
// O_PATH fd: the changes reach both
// members, the reads are the primary's. Before, an absolute virtual path went to the kernel
// as it was (ENOENT) and the others reached the primary alone.
#include "check.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

struct xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static long set_at(int dfd, const char *path, unsigned flags, const char *name, const char *value)
{
	struct xattr_args a = {(uint64_t)(uintptr_t)value, (uint32_t)strlen(value), 0};
	return syscall(463, dfd, path, flags, name, &a, sizeof a);
}

static void expect_xattr(const char *vpath, const char *name, const char *want)
{
	const char *members[] = {"primary", "secondary"};
	for (int i = 0; i < 2; i++) {
		char v[64];
		if (want == NULL) {
			CHECK_ERR(getxattr(member_path(members[i], vpath), name, v, sizeof v), ENODATA);
			continue;
		}
		ssize_t n = getxattr(member_path(members[i], vpath), name, v, sizeof v);
		CHECK_EQ(n, (ssize_t)strlen(want));
		CHECK(memcmp(v, want, n) == 0);
	}
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	write_file(SHADOW "/d/f", "x");
	CHECK_SYS(set_at(AT_FDCWD, SHADOW "/d/f", 0, "user.abs", "1"));
	expect_xattr(SHADOW "/d/f", "user.abs", "1");

	int d = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(set_at(d, "f", 0, "user.rel", "2"));
	expect_xattr(SHADOW "/d/f", "user.rel", "2");
	CHECK_SYS(set_at(d, "", AT_EMPTY_PATH, "user.dir", "3"));
	expect_xattr(SHADOW "/d", "user.dir", "3");

	int p = CHECK_SYS(open(SHADOW "/d/f", O_PATH));
	CHECK_ERR(set_at(p, "", AT_EMPTY_PATH, "user.opath", "4"), EBADF);
	int ro = CHECK_SYS(open(SHADOW "/d/f", O_RDONLY));
	CHECK_SYS(set_at(ro, "", AT_EMPTY_PATH, "user.ro", "4"));
	expect_xattr(SHADOW "/d/f", "user.ro", "4");
	CHECK_SYS(set_at(AT_FDCWD, xasprintf("/proc/self/fd/%d", p), 0, "user.link", "5"));
	expect_xattr(SHADOW "/d/f", "user.link", "5");

	struct xattr_args g = {0};
	char v[16];
	g.value = (uint64_t)(uintptr_t)v;
	g.size = sizeof v;
	CHECK_EQ(syscall(464, d, "f", 0, "user.rel", &g, sizeof g), 1);
	CHECK_EQ(syscall(464, AT_FDCWD, SHADOW "/d/f", 0, "user.abs", &g, sizeof g), 1);
	char list[256];
	CHECK(syscall(465, AT_FDCWD, SHADOW "/d/f", 0, list, sizeof list) > 0);

	CHECK_SYS(syscall(466, AT_FDCWD, SHADOW "/d/f", 0, "user.abs"));
	CHECK_SYS(syscall(466, d, "f", 0, "user.rel"));
	CHECK_SYS(syscall(466, ro, "", AT_EMPTY_PATH, "user.ro"));
	expect_xattr(SHADOW "/d/f", "user.abs", NULL);
	expect_xattr(SHADOW "/d/f", "user.rel", NULL);
	expect_xattr(SHADOW "/d/f", "user.ro", NULL);
	CHECK_ERR(syscall(466, AT_FDCWD, SHADOW "/d/missing", 0, "user.x"), ENOENT);
	CHECK_SYS(close(ro));
	CHECK_SYS(close(p));
	CHECK_SYS(close(d));
	return 0;
}
