// xattr: setxattr/lsetxattr/fsetxattr/removexattr reach both members.
#include "check.h"

#include <sys/xattr.h>

/* The secondary's value of a user xattr must equal want. */
static void expect_secondary_xattr(const char *vpath, const char *name, const char *want)
{
	char buf[64] = {0};
	ssize_t n = lgetxattr(member_path("secondary", vpath), name, buf, sizeof buf - 1);

	if (n < 0)
		check_fail(HERE, errno, "secondary %s: lgetxattr(%s)", vpath, name);
	CHECK_STREQ(buf, want);
}

int main(void)
{
	const char *f = SHADOW "/f";
	char buf[64] = {0};

	write_file(f, "data\n");
	CHECK_SYS(setxattr(f, "user.color", "blue", 4, 0));
	CHECK_EQ(getxattr(f, "user.color", buf, sizeof buf), 4);
	CHECK_STREQ(buf, "blue");
	expect_secondary_xattr(f, "user.color", "blue");
	CHECK_ERR(setxattr(f, "user.color", "red", 3, XATTR_CREATE), EEXIST);

	int fd = CHECK_SYS(open(f, O_RDONLY));
	CHECK_SYS(fsetxattr(fd, "user.size", "big", 3, 0));
	CHECK_SYS(close(fd));
	expect_secondary_xattr(f, "user.size", "big");

	CHECK_SYS(removexattr(f, "user.color"));
	CHECK_ERR(getxattr(f, "user.color", buf, sizeof buf), ENODATA);
	CHECK_ERR(lgetxattr(member_path("secondary", f), "user.color", buf, sizeof buf), ENODATA);

	char list[128];
	ssize_t n = CHECK_SYS(listxattr(f, list, sizeof list));
	CHECK_EQ(n, (ssize_t)sizeof "user.size");
	CHECK_STREQ(list, "user.size");
	return 0;
}
