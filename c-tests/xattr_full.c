// xattr_full: an extended attribute that does not fit in the room a file has for them (ext4
// keeps a file's attributes in its inode and one block) is refused with ENOSPC, the file's
// answer, not a full file system's: by path (setxattr, lsetxattr) and by fd (fsetxattr),
// the program gets the errno it gets natively, both members keep the file as it was and no
// member is failed. Before, the path calls took the lead's ENOSPC for a full member: the
// primary was marked failed and the secondary took over (00080).
#include "check.h"

#include <sys/xattr.h>

/* Sets two 3,000-byte attributes on `path` by the way `how` names; the errno of the
 * second (0 if it fitted). */
static int second_fits(const char *path, const char *how)
{
	static char value[3000];
	memset(value, 'v', sizeof value);
	int fd = strcmp(how, "fd") == 0 ? CHECK_SYS(open(path, O_RDONLY)) : -1;
	int r = 0;
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? "user.first" : "user.second";
		int rc = fd >= 0 ? fsetxattr(fd, name, value, sizeof value, 0)
			: strcmp(how, "link") == 0 ? lsetxattr(path, name, value, sizeof value, 0)
			: setxattr(path, name, value, sizeof value, 0);
		if (i == 0 && rc != 0)
			check_fail(HERE, errno, "%s: the first attribute (%s)", path, how);
		if (i == 1)
			r = rc == 0 ? 0 : errno;
	}
	if (fd >= 0)
		CHECK_SYS(close(fd));
	return r;
}

int main(void)
{
	const char *hows[] = {"path", "link", "fd"};
	for (int i = 0; i < 3; i++) {
		char *native = xasprintf("%s/native-%s", test_tmp(), hows[i]);
		char *shadowed = xasprintf("%s/f-%s", SHADOW, hows[i]);
		write_file(native, "data\n");
		write_file(shadowed, "data\n");
		int want = second_fits(native, hows[i]);
		if (want == 0)
			printf("NOTE: this file system holds two 3,000-byte attributes on one file: the refusal is not exercised here (%s)\n", hows[i]);
		CHECK_EQ(second_fits(shadowed, hows[i]), want);
		EXPECT_SAME_ON_MEMBERS(shadowed);
		write_file(shadowed, "written after\n");
		EXPECT_FILE(shadowed, "written after\n");
	}
	printf("an attribute that does not fit: the file's answer on both members, no member failed\n");
	return 0;
}
