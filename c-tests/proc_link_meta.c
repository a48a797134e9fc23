// proc_link_meta: metadata changes on `/proc/self/fd/N` itself (and `/dev/fd/N`,
// `/dev/stdout`), with N a shadowed fd, follow the link to N's file on every member: the
// kernel follows it to the lead's file, and each follower gets the same change through its
// own fd. gnulib (coreutils, tar) and glibc's own emulations change a file held by an O_PATH
// fd this way (fchmodat's AT_SYMLINK_NOFOLLOW, lchmod, utimensat on O_PATH). Before, these
// reached the primary alone, unreported. Calls that do not follow the link (lchown,
// lsetxattr, utimensat with AT_SYMLINK_NOFOLLOW) act on the link itself, as natively.
// Times set on an O_PATH directory fd itself (utimensat with AT_EMPTY_PATH) reach the
// follower's directory too (its O_PATH follower fd refused futimens: EBADF, reported).
#include "check.h"

#include <sys/time.h>
#include <sys/xattr.h>
#include <utime.h>

static void expect_mode(const char *vpath, mode_t want)
{
	CHECK_EQ(xstat(member_path("primary", vpath)).st_mode & 07777, want);
	CHECK_EQ(xstat(member_path("secondary", vpath)).st_mode & 07777, want);
}

static void expect_xattr(const char *vpath, const char *name, const char *want)
{
	const char *members[] = {"primary", "secondary"};
	for (int i = 0; i < 2; i++) {
		char v[64];
		ssize_t n = getxattr(member_path(members[i], vpath), name, v, sizeof v);
		if (want == NULL) {
			CHECK_ERR(getxattr(member_path(members[i], vpath), name, v, sizeof v), ENODATA);
			continue;
		}
		CHECK_EQ(n, (ssize_t)strlen(want));
		CHECK(memcmp(v, want, n) == 0);
	}
}

int main(void)
{
	const char *f = SHADOW "/f", *g = SHADOW "/g", *r = SHADOW "/r";
	write_file(f, "file held by O_PATH\n");
	write_file(g, "file held read-write\n");
	write_file(r, "file held read-only\n");
	CHECK_SYS(mkdir(SHADOW "/d", 0755));

	// An O_PATH fd (no follower fd of its own: the follower is changed by name).
	int p = CHECK_SYS(open(f, O_PATH));
	const char *pl = xasprintf("/proc/self/fd/%d", p);
	CHECK_SYS(chmod(pl, 0640));
	expect_mode(f, 0640);
	CHECK_SYS(fchmodat(AT_FDCWD, xasprintf("/dev/fd/%d", p), 0604, 0));
	expect_mode(f, 0604);
	CHECK_SYS(chown(pl, 1234, 4321));
	CHECK_EQ(xstat(member_path("secondary", f)).st_uid, 1234);
	CHECK_EQ(xstat(member_path("secondary", f)).st_gid, 4321);
	CHECK_SYS(fchownat(AT_FDCWD, pl, 0, 0, 0));
	CHECK_EQ(xstat(member_path("secondary", f)).st_uid, 0);
	// Only the kernel's spelling of the number: /proc/self/fd/03 and /dev/fd/+3 name nothing.
	CHECK_ERR(chmod(xasprintf("/proc/self/fd/0%d", p), 0600), ENOENT);
	CHECK_ERR(chmod(xasprintf("/dev/fd/+%d", p), 0600), ENOENT);
	expect_mode(f, 0604);
	CHECK_SYS(setxattr(pl, "user.k", "v1", 2, 0));
	expect_xattr(f, "user.k", "v1");
	CHECK_SYS(removexattr(pl, "user.k"));
	expect_xattr(f, "user.k", NULL);
	struct timespec ts[2] = {{1000000000, 5}, {1100000000, 7}};
	CHECK_SYS(utimensat(AT_FDCWD, pl, ts, 0));
	CHECK_EQ(xstat(member_path("secondary", f)).st_mtim.tv_sec, 1100000000);
	CHECK_EQ(xstat(member_path("secondary", f)).st_mtim.tv_nsec, 7);
	struct utimbuf ub = {1200000000, 1300000000};
	CHECK_SYS(utime(pl, &ub));
	CHECK_EQ(xstat(member_path("secondary", f)).st_mtime, 1300000000);
	// "Now" is the lead's now on both members.
	CHECK_SYS(utimes(pl, NULL));
	CHECK_SYS(close(p));

	// A read-write fd: the follower's own fd is changed.
	int w = CHECK_SYS(open(g, O_RDWR));
	const char *wl = xasprintf("/proc/self/fd/%d", w);
	CHECK_SYS(chmod(wl, 0600));
	expect_mode(g, 0600);
	CHECK_SYS(setxattr(wl, "user.w", "rw", 2, 0));
	expect_xattr(g, "user.w", "rw");
	CHECK_SYS(truncate(wl, 4));
	EXPECT_FILE(member_path("secondary", g), "file");
	CHECK_SYS(utimensat(AT_FDCWD, xasprintf("/proc/%d/fd/%d", getpid(), w), NULL, 0));
	CHECK_SYS(close(w));

	// A read-only fd, through /dev/stdout.
	int ro = CHECK_SYS(open(r, O_RDONLY));
	int saved = CHECK_SYS(dup(1));
	CHECK_SYS(dup2(ro, 1));
	CHECK_SYS(chmod("/dev/stdout", 0611));
	CHECK_SYS(dup2(saved, 1));
	CHECK_SYS(close(saved));
	expect_mode(r, 0611);
	CHECK_SYS(close(ro));

	// A directory fd.
	int d = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	const char *dl = xasprintf("/proc/self/fd/%d", d);
	CHECK_SYS(chmod(dl, 0710));
	expect_mode(SHADOW "/d", 0710);
	CHECK_SYS(setxattr(dl, "user.d", "dir", 3, 0));
	expect_xattr(SHADOW "/d", "user.d", "dir");
	CHECK_SYS(close(d));

	// Calls on the link itself are the kernel's answer, and change no member file.
	int q = CHECK_SYS(open(f, O_PATH));
	const char *ql = xasprintf("/proc/self/fd/%d", q);
	int native_err = lsetxattr(ql, "user.l", "x", 1, 0) == 0 ? 0 : errno;
	CHECK(native_err != 0);
	expect_xattr(f, "user.l", NULL);
	CHECK_SYS(close(q));
	// Times on an O_PATH directory fd itself.
	CHECK_SYS(mkdir(SHADOW "/tdir", 0755));
	int dfd = CHECK_SYS(open(SHADOW "/tdir", O_PATH | O_DIRECTORY));
	struct timespec dt[2] = { { 9000000, 0 }, { 9100000, 0 } };
	CHECK_SYS(utimensat(dfd, "", dt, AT_EMPTY_PATH));
	CHECK_EQ(xstat(member_path("primary", SHADOW "/tdir")).st_mtim.tv_sec, 9100000);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/tdir")).st_mtim.tv_sec, 9100000);
	CHECK_SYS(close(dfd));
	return 0;
}
