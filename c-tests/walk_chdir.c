// walk_chdir: glibc's walkers that change directory with internal calls (fts without
// FTS_NOCHDIR, nftw with FTW_CHDIR), run while the cwd is inside the prefix. The program
// reaches each entry by the relative path the walker gives for it (fts_accpath; nftw's
// name at ftw->base), which must be walked from the directory the walker is in — on both
// members. Before, the shim walked them from the cwd it knew: every open failed ENOENT, or
// reached a same-named file of that other directory.
#include "check.h"

#include <fts.h>
#include <ftw.h>

static const char *const files[] = { "t/f", "t/a/f", "t/a/b/f", "t/c/f" };

static void make_tree(void)
{
	CHECK_SYS(mkdir("t", 0755));
	CHECK_SYS(mkdir("t/a", 0755));
	CHECK_SYS(mkdir("t/a/b", 0755));
	CHECK_SYS(mkdir("t/c", 0755));
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		write_file(files[i], "x");
	/* A same-named file in the cwd: a call walked from there would find it. */
	write_file("f", "cwd");
}

static void append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0) {
		char cwd[4096];
		check_fail(HERE, errno, "open %s (getcwd %s)", path, getcwd(cwd, sizeof cwd) ? cwd : "?");
	}
	write_str(fd, s);
	CHECK_SYS(close(fd));
}

static int outside_seen;

static int nftw_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type == FTW_F)
		append(path + ftw->base, "n");
	return 0;
}

static int nftw_outside(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type == FTW_F) {
		/* The walker is in the file's directory, outside the prefix. */
		int fd = CHECK_SYS(open(path + ftw->base, O_RDONLY));
		CHECK_SYS(close(fd));
		outside_seen++;
	}
	return 0;
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/w", 0755));
	CHECK_SYS(chdir(SHADOW "/w"));
	make_tree();

	char *roots[] = { "t", NULL };
	FTS *fts = CHECK_PTR(fts_open(roots, FTS_PHYSICAL, NULL));
	FTSENT *e;
	int seen = 0;
	while ((e = fts_read(fts)) != NULL) {
		if (e->fts_info == FTS_F) {
			append(e->fts_accpath, "s");
			seen++;
		}
	}
	CHECK_EQ(errno, 0);
	CHECK_SYS(fts_close(fts));
	CHECK_EQ(seen, 4);

	CHECK_EQ(nftw("t", nftw_visit, 8, FTW_PHYS | FTW_CHDIR), 0);

	/* A tree outside the prefix, walked while the cwd is inside it. */
	char *out = xasprintf("%s/outside", test_tmp());
	CHECK_SYS(mkdir(out, 0755));
	write_file(xasprintf("%s/g", out), "g");
	CHECK_EQ(nftw(out, nftw_outside, 8, FTW_PHYS | FTW_CHDIR), 0);
	CHECK_EQ(outside_seen, 1);

	/* The walks left the cwd where it was. */
	write_file("after", "a");
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		EXPECT_FILE(files[i], "xsn");
	EXPECT_FILE("f", "cwd");
	EXPECT_FILE(SHADOW "/w/after", "a");
	return 0;
}
