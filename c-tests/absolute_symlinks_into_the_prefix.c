// absolute_symlinks_into_the_prefix: a symlink stored as `/shadow/d` (or climbing out of the
// prefix root and back, `../shadow/d`) is followed to the prefix's `d`, as natively, by
// every kind of call: opens (reading, writing, creating through a dangling link), stat,
// access, chmod, truncate, mkdir/rename/unlink/rmdir beneath it, chdir, opendir, fopen,
// calls relative to a directory fd, links to links. Each member's kernel alone would look
// for a real `/shadow` and answer ENOENT. A path that names nothing still gets ENOENT, and
// the links themselves are left as the program wrote them.
#include "check.h"
#include <dirent.h>
#include <ftw.h>
#include <glob.h>
#include <sys/stat.h>

static int walked;

static int count(const char *path, const struct stat *st, int kind, struct FTW *ftw)
{
	(void)st, (void)ftw;
	walked += kind == FTW_F && strncmp(path, SHADOW "/abs/", strlen(SHADOW "/abs/")) == 0;
	return 0;
}

static int listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	CHECK_PTR(d);
	while ((e = readdir(d)))
		found |= strcmp(e->d_name, name) == 0;
	closedir(d);
	return found;
}

int main(void)
{
	char buf[PATH_MAX];
	struct stat st;

	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	write_file(SHADOW "/d/f", "x");
	CHECK_SYS(symlink(SHADOW "/d", SHADOW "/abs"));
	CHECK_SYS(symlink(SHADOW "/d/f", SHADOW "/absf"));
	CHECK_SYS(symlink(SHADOW "/abs", SHADOW "/abs2"));
	CHECK_SYS(symlink("../shadow/d", SHADOW "/up"));
	CHECK_SYS(symlink(SHADOW "/d/later", SHADOW "/dangling"));

	// The links are what the program wrote.
	ssize_t n = CHECK_SYS(readlink(SHADOW "/abs", buf, sizeof buf));
	buf[n] = 0;
	CHECK_STREQ(buf, SHADOW "/d");
	CHECK_SYS(lstat(SHADOW "/abs", &st));
	CHECK(S_ISLNK(st.st_mode));

	// Followed, reading.
	EXPECT_FILE(SHADOW "/abs/f", "x");
	EXPECT_FILE(SHADOW "/absf", "x");
	EXPECT_FILE(SHADOW "/abs2/f", "x");
	EXPECT_FILE(SHADOW "/up/f", "x");
	CHECK_SYS(stat(SHADOW "/absf", &st));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 1);
	CHECK_SYS(stat(SHADOW "/abs", &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_SYS(access(SHADOW "/abs2/f", R_OK));
	FILE *fp = CHECK_PTR(fopen(SHADOW "/abs/f", "r"));
	CHECK_EQ(fgetc(fp), 'x');
	fclose(fp);
	CHECK(listed(SHADOW "/abs", "f"));
	CHECK_PTR(realpath(SHADOW "/abs2/f", buf));
	CHECK_STREQ(buf, SHADOW "/d/f");
	CHECK(listed(SHADOW "/up", "f"));

	// Followed, writing.
	int fd = CHECK_SYS(open(SHADOW "/absf", O_WRONLY | O_APPEND));
	write_all(fd, "y", 1);
	close(fd);
	EXPECT_FILE(SHADOW "/d/f", "xy");
	write_file(SHADOW "/abs/new", "new");
	EXPECT_FILE(SHADOW "/d/new", "new");
	fd = CHECK_SYS(open(SHADOW "/dangling", O_WRONLY | O_CREAT, 0644));
	write_all(fd, "later", 5);
	close(fd);
	EXPECT_FILE(SHADOW "/d/later", "later");
	CHECK_ERR(open(SHADOW "/dangling", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK_SYS(chmod(SHADOW "/absf", 0600));
	CHECK_SYS(stat(SHADOW "/d/f", &st));
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_SYS(truncate(SHADOW "/abs2/f", 1));
	EXPECT_FILE(SHADOW "/d/f", "x");

	// Names made and removed beneath a link.
	CHECK_SYS(mkdir(SHADOW "/abs/sub", 0700));
	CHECK_SYS(rename(SHADOW "/abs/new", SHADOW "/abs2/sub/moved"));
	EXPECT_FILE(SHADOW "/d/sub/moved", "new");
	CHECK_SYS(link(SHADOW "/abs/sub/moved", SHADOW "/up/linked"));
	CHECK_SYS(unlink(SHADOW "/abs/sub/moved"));
	CHECK_SYS(rmdir(SHADOW "/abs/sub"));
	char tmpl[] = SHADOW "/abs/tmpXXXXXX";
	close(CHECK_SYS(mkstemp(tmpl)));
	CHECK_SYS(unlink(tmpl));
	char dtmpl[] = SHADOW "/abs2/dirXXXXXX";
	CHECK_PTR(mkdtemp(dtmpl));
	CHECK_SYS(rmdir(dtmpl));
	CHECK_SYS(symlink("f", SHADOW "/abs/rel"));
	EXPECT_FILE(SHADOW "/d/rel", "x");

	// Relative to a directory fd and to a cwd.
	int dfd = CHECK_SYS(open(SHADOW, O_RDONLY | O_DIRECTORY));
	fd = CHECK_SYS(openat(dfd, "abs/f", O_RDONLY));
	close(fd);
	CHECK_SYS(fstatat(dfd, "absf", &st, 0));
	CHECK(S_ISREG(st.st_mode));
	CHECK_SYS(chdir(SHADOW "/abs"));
	CHECK_PTR(getcwd(buf, sizeof buf));
	CHECK_STREQ(buf, SHADOW "/d");
	EXPECT_FILE("f", "x");
	CHECK_SYS(chdir("/"));

	// Programs run through them, and glibc's walkers.
	write_file(SHADOW "/d/script", "#!/bin/sh\necho ran >" SHADOW "/abs/ran\n");
	CHECK_SYS(chmod(SHADOW "/d/script", 0755));
	CHECK_SYS(symlink(SHADOW "/d/script", SHADOW "/absbin"));
	system_ok(SHADOW "/absbin");
	EXPECT_FILE(SHADOW "/d/ran", "ran\n");
	CHECK_SYS(unlink(SHADOW "/d/ran"));
	system_ok(SHADOW "/abs2/script");
	EXPECT_FILE(SHADOW "/d/ran", "ran\n");
	struct dirent **names;
	int entries = CHECK_SYS(scandir(SHADOW "/abs", &names, NULL, alphasort));
	CHECK(entries >= 3);
	while (entries--)
		free(names[entries]);
	free(names);
	glob_t g;
	CHECK_EQ(glob(SHADOW "/abs/f", 0, NULL, &g), 0);
	CHECK_EQ(g.gl_pathc, 1);
	CHECK_STREQ(g.gl_pathv[0], SHADOW "/abs/f");
	globfree(&g);
	CHECK_SYS(nftw(SHADOW "/abs", count, 8, 0));
	CHECK(walked >= 3);

	// What names nothing still does not.
	CHECK_ERR(stat(SHADOW "/abs/missing", &st), ENOENT);
	CHECK_ERR(open(SHADOW "/abs/missing/x", O_RDONLY), ENOENT);
	CHECK_ERR(stat(SHADOW "/nowhere/x", &st), ENOENT);
	CHECK_SYS(symlink(SHADOW "/gone", SHADOW "/broken"));
	CHECK_ERR(stat(SHADOW "/broken", &st), ENOENT);
	CHECK_ERR(open(SHADOW "/broken/x", O_WRONLY | O_CREAT, 0644), ENOENT);
	CHECK_SYS(lstat(SHADOW "/broken", &st));
	CHECK_SYS(unlink(SHADOW "/broken"));
	CHECK_SYS(symlink(SHADOW "/loop/inside", SHADOW "/loop"));
	CHECK_ERR(stat(SHADOW "/loop", &st), ELOOP);
	CHECK_ERR(open(SHADOW "/loop/x", O_RDONLY), ELOOP);
	CHECK_SYS(rename(SHADOW "/loop", SHADOW "/loop2"));
	CHECK_SYS(unlink(SHADOW "/loop2"));
	return 0;
}
