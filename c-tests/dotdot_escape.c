// dotdot_escape: "/shadow/../x" is not under the prefix; "/shadow/a/../b" is; and a `..`
// after a symlinked directory climbs from where the symlink leads, as the kernel's does:
// with sub -> d1/d2, "sub/../../x" is "/shadow/x" (lexically folded, it was the host's
// "/x", outside both members).
#include "check.h"

#include <dirent.h>

/* A name the host's root will not have. */
#define X "libshadow-dotdot-escape"

/* Number of entries (other than . and ..) in a real directory. */
static int count_entries(const char *dir)
{
	DIR *d = CHECK_PTR(opendir(dir));
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	const char *tmp = test_tmp();

	/* Inside: a/../b folds to /shadow/b. */
	CHECK_SYS(mkdir(SHADOW "/a", 0755));
	write_file(SHADOW "/a/../b", "inside\n");
	EXPECT_FILE(SHADOW "/b", "inside\n");

	/* Outside: /shadow/.. is /, so this names the real scratch file. */
	char *esc = xasprintf(SHADOW "/..%s/outside", tmp);
	char *real = xasprintf("%s/outside", tmp);
	int fd = open(esc, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		write_str(fd, "escaped\n");
		CHECK_SYS(close(fd));
		EXPECT_FILE(real, "escaped\n");
		printf("note: open(\"%s\") resolved lexically to the real path\n", esc);
	} else {
		/* Native behaviour when /shadow does not exist on disk. */
		CHECK(errno == ENOENT);
		EXPECT_MISSING(real);
		printf("note: open(\"%s\") failed with ENOENT, as natively\n", esc);
	}

	/* /shadow/a/../../x also leaves the prefix. */
	char *esc2 = xasprintf(SHADOW "/a/../..%s/outside2", tmp);
	fd = open(esc2, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		CHECK_SYS(close(fd));
	else
		CHECK(errno == ENOENT);

	/* Nothing of it reached either member: each holds only a and b. */
	CHECK_EQ(count_entries(xasprintf("%s/primary", tmp)), 2);
	CHECK_EQ(count_entries(xasprintf("%s/secondary", tmp)), 2);

	/* Through a symlinked directory: absolute, from the cwd, from a dirfd, and a
	 * relative escape that names a real file: it must stay out of reach. */
	CHECK_SYS(mkdir(SHADOW "/d1", 0755));
	CHECK_SYS(mkdir(SHADOW "/d1/d2", 0755));
	CHECK_SYS(symlink("d1/d2", SHADOW "/sub"));
	/* A build that folds lexically writes the host's /X: left by an earlier run? */
	unlink("/" X);
	write_file(SHADOW "/sub/../../" X, "abs\n");
	EXPECT_FILE(SHADOW "/" X, "abs\n");
	CHECK_SYS(chdir(SHADOW "/sub"));
	write_file("../../y", "cwd\n");
	EXPECT_FILE(SHADOW "/y", "cwd\n");
	CHECK_SYS(chdir(SHADOW));
	int dfd = CHECK_SYS(open(SHADOW "/sub", O_RDONLY | O_DIRECTORY));
	int zfd = CHECK_SYS(openat(dfd, "../../z", O_WRONLY | O_CREAT | O_EXCL, 0644));
	write_str(zfd, "dirfd\n");
	CHECK_SYS(close(zfd));
	CHECK_SYS(close(dfd));
	EXPECT_FILE(SHADOW "/z", "dirfd\n");
	CHECK_SYS(unlink("sub/../../" X));
	EXPECT_MISSING(SHADOW "/" X);
	/* The lead's dir itself: "sub/../.." is the prefix root. */
	struct stat root_st = xstat(SHADOW);
	struct stat up_st = xstat("sub/../..");
	CHECK_EQ(up_st.st_ino, root_st.st_ino);
	/* The host's side of the scratch dir is never reached this way. */
	EXPECT_MISSING("/" X);
	/* Nor the directory above the members (a naive primary + "/.." join). */
	EXPECT_MISSING(xasprintf("%s/primary/..%s", tmp, tmp));
	return 0;
}
