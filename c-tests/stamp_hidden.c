// stamp_hidden: each member's stamp (user.libshadow.stamp on its root: split-brain
// detection) is the shim's, not the program's: listxattr and getxattr of the prefix root
// (by path or fd) do not show it, removexattr says ENODATA and setxattr EPERM, and `rsync -aX src/
// /shadow/` (which removes the root's xattrs its source lacks) leaves it on both members;
// so does every call that reaches the root through a symlink in the set (d/up -> ..).
// Before, the program saw it, and that rsync removed it from both members: split-brain
// detection off for good, unreported.
#include "check.h"

#include <sys/xattr.h>

#define STAMP "user.libshadow.stamp"

static void stamps_in_place(void)
{
	char v[256];
	CHECK(getxattr(member_path("primary", SHADOW), STAMP, v, sizeof v) > 0);
	CHECK(getxattr(member_path("secondary", SHADOW), STAMP, v, sizeof v) > 0);
}

int main(void)
{
	write_file(SHADOW "/f", "x");
	stamps_in_place();
	CHECK_SYS(setxattr(SHADOW, "user.mine", "1", 1, 0));
	char v[256], list[1024];
	CHECK_ERR(getxattr(SHADOW, STAMP, v, sizeof v), ENODATA);
	CHECK_ERR(lgetxattr(SHADOW "/", STAMP, v, sizeof v), ENODATA);
	ssize_t n = CHECK_SYS(listxattr(SHADOW, list, sizeof list));
	CHECK_EQ(n, (ssize_t)sizeof "user.mine");
	CHECK_STREQ(list, "user.mine");
	CHECK_EQ(llistxattr(SHADOW, NULL, 0), (ssize_t)sizeof "user.mine");
	CHECK_ERR(listxattr(SHADOW, list, 3), ERANGE);
	CHECK_ERR(removexattr(SHADOW, STAMP), ENODATA);
	CHECK_ERR(setxattr(SHADOW, STAMP, "x", 1, 0), EPERM);
	int root = CHECK_SYS(open(SHADOW, O_RDONLY | O_DIRECTORY));
	CHECK_EQ(flistxattr(root, list, sizeof list), (ssize_t)sizeof "user.mine");
	CHECK_ERR(fgetxattr(root, STAMP, v, sizeof v), ENODATA);
	CHECK_ERR(fremovexattr(root, STAMP), ENODATA);
	CHECK_ERR(fsetxattr(root, STAMP, "x", 1, 0), EPERM);
	/* And through the fd's link, which calls that follow it reach the root by. */
	const char *link = xasprintf("/dev/fd/%d", root);
	CHECK_EQ(listxattr(link, list, sizeof list), (ssize_t)sizeof "user.mine");
	CHECK_ERR(getxattr(link, STAMP, v, sizeof v), ENODATA);
	CHECK_ERR(removexattr(link, STAMP), ENODATA);
	CHECK_ERR(setxattr(xasprintf("/proc/self/fd/%d", root), STAMP, "x", 1, 0), EPERM);
	CHECK_SYS(close(root));
	stamps_in_place();
	/* And through a symlink in the set that leads to the root (before, each of these
	 * reached the stamp: removed from both members, or set to the program's value). */
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(symlink("..", SHADOW "/d/up"));
	CHECK_ERR(getxattr(SHADOW "/d/up", STAMP, v, sizeof v), ENODATA);
	CHECK_ERR(lgetxattr(SHADOW "/d/up/.", STAMP, v, sizeof v), ENODATA);
	CHECK_ERR(setxattr(SHADOW "/d/up", STAMP, "x", 1, 0), EPERM);
	CHECK_ERR(lsetxattr(SHADOW "/d/up/", STAMP, "x", 1, 0), EPERM);
	CHECK_ERR(removexattr(SHADOW "/d/up", STAMP), ENODATA);
	CHECK_ERR(lremovexattr(SHADOW "/d/up/.", STAMP), ENODATA);
	n = CHECK_SYS(listxattr(SHADOW "/d/up", list, sizeof list));
	CHECK_EQ(n, (ssize_t)sizeof "user.mine");
	CHECK_STREQ(list, "user.mine");
	/* lgetxattr of the link itself is the link's (it has no stamp). */
	CHECK_ERR(lgetxattr(SHADOW "/d/up", STAMP, v, sizeof v), ENODATA);
	/* A file of the program's may carry an attribute of that name: it is the program's. */
	CHECK_SYS(setxattr(SHADOW "/f", STAMP, "mine", 4, 0));
	CHECK_EQ(getxattr(SHADOW "/f", STAMP, v, sizeof v), 4);
	CHECK_EQ(listxattr(SHADOW "/f", list, sizeof list), (ssize_t)sizeof STAMP);
	CHECK_SYS(removexattr(SHADOW "/f", STAMP));
	CHECK_SYS(unlink(SHADOW "/d/up"));
	CHECK_SYS(rmdir(SHADOW "/d"));
	stamps_in_place();

	const char *src = xasprintf("%s/src", test_tmp());
	CHECK_SYS(mkdir(src, 0755));
	write_file(xasprintf("%s/g", src), "from rsync\n");
	system_ok(xasprintf("rsync -aX %s/ " SHADOW "/", src));
	EXPECT_FILE(SHADOW "/g", "from rsync\n");
	CHECK_ERR(getxattr(SHADOW, "user.mine", v, sizeof v), ENODATA);
	stamps_in_place();
	return 0;
}
