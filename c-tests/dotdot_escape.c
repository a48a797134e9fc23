// dotdot_escape: "/shadow/../x" is not under the prefix; "/shadow/a/../b" is.
#include "check.h"

#include <dirent.h>

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
	/* Nor the directory above the members (a naive primary + "/.." join). */
	EXPECT_MISSING(xasprintf("%s/primary/..%s", tmp, tmp));
	return 0;
}
