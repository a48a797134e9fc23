// fts_virtual: fts(3) on an absolute path under the prefix (Tcl's `file copy` and
// `file delete -force` of a directory, libselinux's restorecon walk so). glibc's fts makes
// its calls internally, where the shim cannot see them: it found nothing there (ENOENT).
// The shim walks such roots with an fts of its own, whose calls it sees. Each walk here is
// made twice, with the same options: by glibc's fts over the primary's real directory,
// and by the shim's over the virtual one; every entry must come back the same (kind,
// level, name, path after the root, inode, errno) and its `fts_accpath` must open the
// same file from where the walk stands (fts changes directory unless FTS_NOCHDIR). Then a
// walk removes the tree, as `rm -r` does, and members are compared by run.sh.
// timeout: 60
#include "check.h"
#include <fts.h>

static int by_name(const FTSENT **a, const FTSENT **b)
{
	return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Appends one line per entry to `log`: what the program sees of it. */
static void walk(const char *root, int options, int sorted, char *log, size_t size)
{
	char *roots[] = { (char *)root, NULL };
	char cwd_before[4096], cwd_after[4096];
	CHECK_PTR(getcwd(cwd_before, sizeof cwd_before));
	FTS *fts = CHECK_PTR(fts_open(roots, options, sorted ? by_name : NULL));
	size_t rootlen = strlen(root), used = strlen(log);
	FTSENT *e;
	int skipped = 0;
	while ((e = fts_read(fts)) != NULL) {
		char content[16] = "";
		if (e->fts_info == FTS_F) {
			int fd = open(e->fts_accpath, O_RDONLY);
			CHECK(fd >= 0);
			ssize_t n = read(fd, content, sizeof content - 1);
			CHECK(n >= 0);
			content[n] = 0;
			close(fd);
		}
		/* The children of the first directory below the root are listed, and the
		 * directory is then skipped (fts_set FTS_SKIP). */
		int listed = -1;
		if (e->fts_info == FTS_D && e->fts_level == 1 && !skipped) {
			listed = 0;
			for (FTSENT *c = fts_children(fts, 0); c; c = c->fts_link)
				listed++;
			CHECK_SYS(fts_set(fts, e, FTS_SKIP));
			skipped = 1;
		}
		CHECK(strncmp(e->fts_path, root, rootlen) == 0);
		/* fts_path to fts_pathlen: after fts_children glibc's is not ended there. */
		used += snprintf(log + used, size - used, "%d %d %s [%.*s] %u ino=%lu errno=%d children=%d '%s'\n",
				 e->fts_info, e->fts_level, e->fts_name, (int)(e->fts_pathlen - rootlen),
				 e->fts_path + rootlen, e->fts_namelen,
				 /* Under FTS_NOSTAT glibc leaves fts_statp unset. */
				 options & FTS_NOSTAT ? 0UL : (unsigned long)e->fts_statp->st_ino,
				 e->fts_errno, listed, content);
		CHECK(used < size);
	}
	CHECK(errno == 0);
	CHECK_SYS(fts_close(fts));
	CHECK_PTR(getcwd(cwd_after, sizeof cwd_after));
	CHECK(strcmp(cwd_before, cwd_after) == 0);
}

static void same_walks(int options, int sorted)
{
	static char native[1 << 16], shadowed[1 << 16];
	native[0] = shadowed[0] = 0;
	walk(member_path("primary", SHADOW "/t"), options, sorted, native, sizeof native);
	walk(SHADOW "/t", options, sorted, shadowed, sizeof shadowed);
	if (strcmp(native, shadowed) != 0)
		check_fail(HERE, 0, "options %#x sorted %d:\n--- glibc over the primary\n%s--- the shim's over %s/t\n%s",
			   options, sorted, native, SHADOW, shadowed);
	CHECK(strstr(shadowed, " one [/one]") != NULL);
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/t", 0755));
	CHECK_SYS(mkdir(SHADOW "/t/a", 0755));
	CHECK_SYS(mkdir(SHADOW "/t/a/b", 0755));
	CHECK_SYS(mkdir(SHADOW "/t/empty", 0755));
	CHECK_SYS(mkdir(SHADOW "/t/z", 0755));
	write_file(SHADOW "/t/one", "one");
	write_file(SHADOW "/t/a/two", "two");
	write_file(SHADOW "/t/a/b/three", "three");
	write_file(SHADOW "/t/z/four", "four");
	CHECK_SYS(symlink("one", SHADOW "/t/link"));
	CHECK_SYS(symlink("a", SHADOW "/t/dirlink"));
	CHECK_SYS(symlink("nowhere", SHADOW "/t/dangling"));

	/* From a cwd inside the walk's tree too: fts comes back to it. */
	for (int from_inside = 0; from_inside < 2; from_inside++) {
		if (from_inside)
			CHECK_SYS(chdir(SHADOW "/t/z"));
		int options[] = { FTS_PHYSICAL, FTS_PHYSICAL | FTS_NOCHDIR, FTS_LOGICAL, FTS_PHYSICAL | FTS_SEEDOT,
				  FTS_PHYSICAL | FTS_COMFOLLOW | FTS_XDEV, FTS_PHYSICAL | FTS_NOSTAT };
		for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
			for (int sorted = 0; sorted < 2; sorted++)
				same_walks(options[i], sorted);
	}
	CHECK_SYS(chdir("/"));

	/* rm -r: files and links as they come, each directory after its entries. */
	char *roots[] = { SHADOW "/t", NULL };
	FTS *fts = CHECK_PTR(fts_open(roots, FTS_PHYSICAL, NULL));
	FTSENT *e;
	while ((e = fts_read(fts)) != NULL) {
		if (e->fts_info == FTS_DP)
			CHECK_SYS(rmdir(e->fts_accpath));
		else if (e->fts_info != FTS_D)
			CHECK_SYS(unlink(e->fts_accpath));
	}
	CHECK_SYS(fts_close(fts));
	CHECK_ERR(access(SHADOW "/t", F_OK), ENOENT);
	printf("fts on a virtual root: as glibc's on the real one\n");
	return 0;
}
