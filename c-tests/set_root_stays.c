// set_root_stays: the set's root cannot be removed or moved, as a mount point cannot, and
// the program is told so as the kernel tells it for one (EBUSY), by every call that names
// it: rmdir, unlinkat(AT_REMOVEDIR), remove, rename, renameat, renameat2, from a path, from
// "/" as a dirfd and from "/" as the cwd; a link to its name finds it taken (EEXIST).
// Through a final "." or ".." each member's kernel answers as natively. Before, rmdir
// answered EINVAL (rm -rf /shadow then exited 0 with the root left), a rename EXDEV (mv
// copied the whole set out, then failed to remove it), a link from outside EXDEV.
#include "check.h"
#include <stdio.h>

#define CHECK_ERRNO(expr, e) do { \
	errno = 0; \
	CHECK_EQ((expr), -1); \
	CHECK_EQ(errno, (e)); \
} while (0)

int main(void)
{
	char *outside = xasprintf("%s/outside", test_tmp());
	int root = CHECK_SYS(open("/", O_RDONLY | O_DIRECTORY));

	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	write_file(SHADOW "/d/f", "kept");
	CHECK_SYS(mkdir(outside, 0755));

	CHECK_ERRNO(rmdir(SHADOW), EBUSY);
	CHECK_ERRNO(rmdir(SHADOW "//"), EBUSY);
	CHECK_ERRNO(unlinkat(AT_FDCWD, SHADOW, AT_REMOVEDIR), EBUSY);
	CHECK_ERRNO(unlinkat(root, SHADOW + 1, AT_REMOVEDIR), EBUSY);
	CHECK_ERRNO(remove(SHADOW), EBUSY);
	CHECK_ERRNO(rename(SHADOW, outside), EBUSY);
	CHECK_ERRNO(rename(outside, SHADOW), EBUSY);
	CHECK_ERRNO(rename(SHADOW "/d", SHADOW), EBUSY);
	CHECK_ERRNO(renameat(root, SHADOW + 1, AT_FDCWD, xasprintf("%s/moved", test_tmp())), EBUSY);
	CHECK_ERRNO(renameat2(AT_FDCWD, SHADOW "/d", AT_FDCWD, SHADOW, RENAME_EXCHANGE), EBUSY);

	/* A final "." or "..": the kernel's own answers. */
	CHECK_ERRNO(rmdir(SHADOW "/."), EINVAL);
	CHECK_ERRNO(rmdir(SHADOW "/d/.."), ENOTEMPTY);
	CHECK_ERRNO(unlink(SHADOW), EISDIR);
	write_file(xasprintf("%s/file", outside), "x");
	CHECK_ERRNO(link(xasprintf("%s/file", outside), SHADOW), EEXIST);
	CHECK_ERRNO(link(SHADOW "/d/f", SHADOW), EEXIST);

	CHECK_SYS(chdir("/"));
	CHECK_ERRNO(rmdir(SHADOW + 1), EBUSY);
	CHECK_ERRNO(rename(SHADOW + 1, "moved"), EBUSY);

	/* Nothing moved: the set is whole, and a removal below the root still works. */
	CHECK_STREQ(read_whole_file(SHADOW "/d/f", NULL), "kept");
	CHECK_SYS(unlink(SHADOW "/d/f"));
	CHECK_SYS(rmdir(SHADOW "/d"));
	CHECK_SYS(mkdir(SHADOW "/e", 0755));
	return 0;
}
