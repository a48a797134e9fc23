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

	/* The member stamp on the set's root is the shim's (stamp_hidden.c): refused by
	 * name, relative to the root's fd, on the root's fd itself and through a symlink to
	 * the root; left out of the root's list. Before, these calls reached it on both
	 * members. */
	const char *stamp = "user.libshadow.stamp";
	CHECK_SYS(symlink("..", SHADOW "/d/up"));
	int root = CHECK_SYS(open(SHADOW, O_RDONLY | O_DIRECTORY));
	struct { int dfd; const char *path; unsigned flags; } ways[] = {
		{AT_FDCWD, SHADOW, 0}, {root, ".", 0}, {root, "", AT_EMPTY_PATH}, {d, "up", 0}, {d, "up/.", AT_SYMLINK_NOFOLLOW},
	};
	for (unsigned i = 0; i < sizeof ways / sizeof ways[0]; i++) {
		CHECK_ERR(set_at(ways[i].dfd, ways[i].path, ways[i].flags, stamp, "x"), EPERM);
		CHECK_ERR(syscall(464, ways[i].dfd, ways[i].path, ways[i].flags, stamp, &g, sizeof g), ENODATA);
		CHECK_ERR(syscall(466, ways[i].dfd, ways[i].path, ways[i].flags, stamp), ENODATA);
		long n = CHECK_SYS(syscall(465, ways[i].dfd, ways[i].path, ways[i].flags, list, sizeof list));
		for (long at = 0; at < n; at += strlen(list + at) + 1)
			if (strcmp(list + at, stamp) == 0)
				check_fail(HERE, 0, "listxattrat way %u shows the member stamp", i);
	}
	/* A size asked for (size 0) leaves the program's buffer alone, as the kernel does. */
	CHECK_SYS(set_at(AT_FDCWD, SHADOW, 0, "user.mine", "1"));
	memset(list, 'x', sizeof list);
	memcpy(list, stamp, strlen(stamp) + 1);
	long want = CHECK_SYS(syscall(465, AT_FDCWD, SHADOW, 0, list, 0));
	CHECK_STREQ(list, stamp);
	CHECK(want >= CHECK_SYS(syscall(465, AT_FDCWD, SHADOW, 0, list, sizeof list)));
	char sv[256];
	CHECK(getxattr(member_path("primary", SHADOW), stamp, sv, sizeof sv) > 0);
	CHECK(getxattr(member_path("secondary", SHADOW), stamp, sv, sizeof sv) > 0);
	CHECK_SYS(close(root));
	CHECK_SYS(close(d));
	return 0;
}
