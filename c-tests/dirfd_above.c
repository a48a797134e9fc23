// dirfd_above: *at() calls whose directory fd lies above the prefix (as rsync >= 3.4 and
// fts-style walkers use them) reach the prefix: openat(open("/"), "shadow/d/x").
#include "check.h"

#include <dirent.h>

/* SHADOW without its leading slash. */
#define BELOW_ROOT "shadow"

int main(void)
{
	CHECK_STREQ(SHADOW + 1, BELOW_ROOT);
	int root = CHECK_SYS(open("/", O_PATH | O_DIRECTORY));
	struct stat st;
	CHECK_SYS(fstatat(root, BELOW_ROOT, &st, 0));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_SYS(mkdirat(root, BELOW_ROOT "/d", 0755));
	int fd = CHECK_SYS(openat(root, BELOW_ROOT "/d/x", O_WRONLY | O_CREAT | O_EXCL, 0644));
	write_str(fd, "through /\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/d/x", "through /\n");
	CHECK_SYS(renameat(root, BELOW_ROOT "/d/x", root, BELOW_ROOT "/d/y"));
	CHECK_SYS(fchmodat(root, BELOW_ROOT "/d/y", 0600, 0));
	CHECK_EQ(xstat(SHADOW "/d/y").st_mode & 07777, 0600);

	/* A directory fd on the prefix itself, opened through the one above it. */
	int top = CHECK_SYS(openat(root, BELOW_ROOT, O_RDONLY | O_DIRECTORY));
	CHECK_SYS(symlinkat("y", top, "d/link"));
	CHECK_SYS(linkat(top, "d/y", top, "d/hard", 0));
	CHECK_SYS(unlinkat(top, "d/hard", 0));
	DIR *dir = CHECK_PTR(fdopendir(top));
	int names = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		names += strcmp(e->d_name, "d") == 0;
	CHECK_EQ(names, 1);
	closedir(dir);

	/* From the cwd "/", relative. */
	CHECK_SYS(chdir("/"));
	write_file(BELOW_ROOT "/d/rel", "relative from /\n");
	EXPECT_FILE(SHADOW "/d/rel", "relative from /\n");
	CHECK_SYS(close(root));
	return 0;
}
