// stat_reads: stat/lstat/fstatat/statx/access/realpath/readdir/ftok see the primary's view.
#include "check.h"

#include <dirent.h>
#include <limits.h>
#include <sys/ipc.h>

int main(void)
{
	umask(022);
	CHECK_SYS(mkdir(SHADOW "/sub", 0750));
	write_file(SHADOW "/sub/a", "aaaa\n");
	write_file(SHADOW "/sub/b", "bb\n");
	CHECK_SYS(symlink("a", SHADOW "/sub/link"));

	struct stat st;
	CHECK_SYS(stat(SHADOW "/sub/a", &st));
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 5);
	CHECK_SYS(stat(SHADOW "/sub/link", &st));
	CHECK_EQ(st.st_size, 5);
	CHECK_SYS(lstat(SHADOW "/sub/link", &st));
	CHECK(S_ISLNK(st.st_mode));
	CHECK_EQ(st.st_size, 1);
	CHECK_SYS(stat(SHADOW, &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_SYS(stat(SHADOW "/", &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_SYS(fstatat(AT_FDCWD, SHADOW "/sub", &st, 0));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0750);

	/* The view is the primary's: its inode, not the secondary's. */
	struct stat pst;
	CHECK_SYS(stat(xasprintf("%s/primary/sub/a", test_tmp()), &pst));
	CHECK_SYS(stat(SHADOW "/sub/a", &st));
	CHECK_EQ(st.st_ino, pst.st_ino);
	CHECK_EQ(st.st_dev, pst.st_dev);

	struct statx sx;
	CHECK_SYS(statx(AT_FDCWD, SHADOW "/sub/b", 0, STATX_BASIC_STATS, &sx));
	CHECK_EQ(sx.stx_size, 3);
	CHECK_SYS(statx(AT_FDCWD, SHADOW "/sub/link", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
	CHECK(S_ISLNK(sx.stx_mode));

	CHECK_SYS(access(SHADOW "/sub/a", R_OK | W_OK));
	CHECK_SYS(access(SHADOW, F_OK));
	CHECK_ERR(access(SHADOW "/sub/none", F_OK), ENOENT);
	CHECK_SYS(euidaccess(SHADOW "/sub/b", R_OK));

	/* realpath resolves the symlink and stays in the virtual namespace. */
	char rp[PATH_MAX];
	CHECK_PTR(realpath(SHADOW "/sub/../sub/link", rp));
	printf("note: realpath(\"/shadow/sub/../sub/link\") = \"%s\"\n", rp);
	CHECK_STREQ(rp, SHADOW "/sub/a");
	char *dyn = CHECK_PTR(realpath(SHADOW "/sub", NULL));
	CHECK_STREQ(dyn, SHADOW "/sub");
	free(dyn);
	dyn = CHECK_PTR(canonicalize_file_name(SHADOW "/sub/b"));
	CHECK_STREQ(dyn, SHADOW "/sub/b");
	free(dyn);
	CHECK(realpath(SHADOW "/sub/none/x", rp) == NULL && errno == ENOENT);

	/* readdir lists what was created through the shim. */
	DIR *d = CHECK_PTR(opendir(SHADOW "/sub"));
	int seen = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, "a") == 0)
			seen |= 1;
		else if (strcmp(e->d_name, "b") == 0)
			seen |= 2;
		else if (strcmp(e->d_name, "link") == 0)
			seen |= 4;
		else if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			check_fail(HERE, 0, "unexpected entry %s", e->d_name);
	}
	CHECK_EQ(seen, 7);
	CHECK_SYS(closedir(d));

	/* scandir on the prefix root. */
	struct dirent **names;
	int n = CHECK_SYS(scandir(SHADOW, &names, NULL, alphasort));
	CHECK_EQ(n, 3);
	CHECK_STREQ(names[2]->d_name, "sub");
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);

	/* A change made directly on the primary shows through (reads are primary-only). */
	/* ftok (glibc stats with an internal call): the key of the primary's file. */
	key_t key = ftok(SHADOW "/sub/a", 7);
	CHECK(key != -1);
	CHECK_EQ(key, ftok(member_path("primary", SHADOW "/sub/a"), 7));
	CHECK_ERR(ftok(SHADOW "/sub/none", 7), ENOENT);
	write_file(xasprintf("%s/primary/sub/b", test_tmp()), "changed on primary\n");
	EXPECT_FILE(SHADOW "/sub/b", "changed on primary\n");
	write_file(xasprintf("%s/secondary/sub/b", test_tmp()), "changed on primary\n");
	/* Written apart, the two got their own mtimes (equal only within one clock tick). */
	struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
	CHECK_SYS(utimensat(AT_FDCWD, xasprintf("%s/primary/sub/b", test_tmp()), ts, 0));
	CHECK_SYS(utimensat(AT_FDCWD, xasprintf("%s/secondary/sub/b", test_tmp()), ts, 0));
	return 0;
}
