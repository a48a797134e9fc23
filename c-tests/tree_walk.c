// tree_walk: library walkers on /shadow (glob, nftw, fdopendir, scandirat) see the
// primary's tree, like stat/readdir do; fts too (the shim's own, see fts_virtual.c).
#include "check.h"

#include <dirent.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>

static int nftw_count;

static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (strncmp(path, SHADOW, strlen(SHADOW)) != 0)
		check_fail(HERE, 0, "nftw passed a path outside the prefix: %s", path);
	if (type == FTW_NS || type == FTW_DNR)
		check_fail(HERE, 0, "nftw could not stat/read %s (type %d)", path, type);
	nftw_count++;
	return 0;
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/w", 0755));
	CHECK_SYS(mkdir(SHADOW "/w/sub", 0755));
	write_file(SHADOW "/w/one.txt", "1\n");
	write_file(SHADOW "/w/two.txt", "2\n");
	write_file(SHADOW "/w/sub/three.txt", "3\n");

	/* glob */
	glob_t g;
	CHECK_EQ(glob(SHADOW "/w/*.txt", 0, NULL, &g), 0);
	CHECK_EQ(g.gl_pathc, 2);
	CHECK_STREQ(g.gl_pathv[0], SHADOW "/w/one.txt");
	CHECK_STREQ(g.gl_pathv[1], SHADOW "/w/two.txt");
	globfree(&g);
	CHECK_EQ(glob(SHADOW "/w/*/*.txt", 0, NULL, &g), 0);
	CHECK_EQ(g.gl_pathc, 1);
	CHECK_STREQ(g.gl_pathv[0], SHADOW "/w/sub/three.txt");
	globfree(&g);

	/* nftw: /shadow/w, sub, three files. */
	CHECK_EQ(nftw(SHADOW "/w", count_entry, 8, FTW_PHYS), 0);
	CHECK_EQ(nftw_count, 5);

	/* fts: the shim walks a virtual root with an fts of its own (glibc's makes internal
	 * calls the shim cannot see): /shadow/w, sub, three files, and /shadow/w and sub
	 * again after their entries. */
	char *roots[] = { SHADOW "/w", NULL };
	FTS *fts = CHECK_PTR(fts_open(roots, FTS_PHYSICAL, NULL));
	int fts_count = 0;
	for (FTSENT *e; (e = fts_read(fts)) != NULL; fts_count++)
		CHECK(strncmp(e->fts_path, SHADOW "/w", strlen(SHADOW "/w")) == 0);
	CHECK_EQ(fts_count, 7);
	CHECK_SYS(fts_close(fts));

	/* fdopendir and scandirat on a shadowed directory fd. */
	int dfd = CHECK_SYS(open(SHADOW "/w", O_RDONLY | O_DIRECTORY));
	struct dirent **names;
	int n = CHECK_SYS(scandirat(dfd, "sub", &names, NULL, alphasort));
	CHECK_EQ(n, 3);
	CHECK_STREQ(names[2]->d_name, "three.txt");
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	DIR *d = CHECK_PTR(fdopendir(dfd));
	int count = 0;
	while (readdir(d) != NULL)
		count++;
	CHECK_EQ(count, 5);	/* . .. sub one.txt two.txt */
	CHECK_SYS(closedir(d));
	return 0;
}
