// long_paths: a relative path that works natively near PATH_MAX works under the shim (the
// members' kernels walk it from the cwd they hold, not from one long string), and a tree
// deeper than PATH_MAX can be built with mkdir + chdir, written at the bottom and removed.
// The members are compared here by walking each from its root with openat: their full
// paths are longer than PATH_MAX too.
#include "check.h"

#include <limits.h>

#define NAME 200
#define DEPTH 30

static char *name(int i)
{
	char *n = malloc(NAME + 1);
	memset(n, 'a' + i % 26, NAME);
	snprintf(n, 8, "%03d", i);
	n[3] = 'd';
	n[NAME] = '\0';
	return n;
}

/* The file at the bottom of the deep tree, read from one member by walking openat. */
static char *bottom_in(const char *member)
{
	int fd = CHECK_SYS(open(member_path(member, SHADOW "/deep"), O_RDONLY | O_DIRECTORY));
	for (int i = 0; i < DEPTH; i++) {
		int next = openat(fd, name(i), O_RDONLY | O_DIRECTORY);
		if (next < 0)
			check_fail(HERE, errno, "%s: level %d missing", member, i);
		close(fd);
		fd = next;
	}
	int f = openat(fd, "bottom", O_RDONLY);
	if (f < 0)
		check_fail(HERE, errno, "%s: bottom missing", member);
	char *s = read_fd(f, NULL);
	struct stat st;
	CHECK_SYS(fstat(f, &st));
	CHECK_EQ(st.st_mode & 07777, 0640);
	close(f);
	close(fd);
	return s;
}

int main(void)
{
	/* 1. A relative path of almost PATH_MAX bytes from a cwd inside the prefix. */
	CHECK_SYS(mkdir(SHADOW "/w", 0755));
	CHECK_SYS(chdir(SHADOW "/w"));
	char path[PATH_MAX];
	size_t len = 0;
	for (int i = 0; len + NAME + 1 < PATH_MAX - 20; i++) {
		if (len)
			path[len++] = '/';
		memcpy(path + len, name(i), NAME);
		len += NAME;
		path[len] = '\0';
		CHECK_SYS(mkdir(path, 0755));
	}
	strcpy(path + len, "/file");
	write_file(path, "near PATH_MAX\n");
	EXPECT_FILE(path, "near PATH_MAX\n");
	CHECK_SYS(chmod(path, 0600));
	CHECK_SYS(truncate(path, 5));
	EXPECT_FILE(path, "near ");
	CHECK_SYS(unlink(path));

	/* 2. A tree deeper than PATH_MAX: mkdir x; cd x. */
	CHECK_SYS(mkdir(SHADOW "/deep", 0755));
	CHECK_SYS(chdir(SHADOW "/deep"));
	for (int i = 0; i < DEPTH; i++) {
		CHECK_SYS(mkdir(name(i), 0755));
		CHECK_SYS(chdir(name(i)));
	}
	int fd = CHECK_SYS(open("bottom", O_WRONLY | O_CREAT | O_TRUNC, 0640));
	write_str(fd, "below PATH_MAX\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE("bottom", "below PATH_MAX\n");
	CHECK_STREQ(bottom_in("primary"), "below PATH_MAX\n");
	CHECK_STREQ(bottom_in("secondary"), "below PATH_MAX\n");

	/* Back up, removing as we go. */
	CHECK_SYS(unlink("bottom"));
	for (int i = DEPTH - 1; i >= 0; i--) {
		CHECK_SYS(chdir(".."));
		CHECK_SYS(rmdir(name(i)));
	}
	CHECK_SYS(chdir("/"));
	CHECK_SYS(rmdir(SHADOW "/deep"));
	return 0;
}
