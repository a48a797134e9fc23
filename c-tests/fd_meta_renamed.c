// fd_meta_renamed: fchmod, fchown and futimens on a read-only fd (no follower fd: the
// follower's file is changed by name). After the name the fd was opened by was given to
// another file (rename over it), the change must not reach the follower's new file: the
// old file, renamed away with a name of its own, is changed by that name, which the
// kernel gives it now (its twin was renamed alike; before 2026-12-05 it was reported and
// left to recover). On an unlinked old file nothing is left to mirror. A flush of a file
// known by no name (the one it was opened by removed, a hard link kept) flushes the
// follower's file system.
#include "check.h"

static mode_t mode_in(const char *member, const char *vpath)
{
	struct stat st;
	CHECK_SYS(stat(member_path(member, vpath), &st));
	return st.st_mode & 07777;
}

int main(void)
{
	/* Replaced, the old file unlinked: nothing to mirror, nothing reported. */
	write_file(SHADOW "/x", "old\n");
	write_file(SHADOW "/y", "new\n");
	CHECK_SYS(chmod(SHADOW "/y", 0644));
	int fd = CHECK_SYS(open(SHADOW "/x", O_RDONLY));
	CHECK_SYS(rename(SHADOW "/y", SHADOW "/x"));
	CHECK_SYS(fchmod(fd, 0600));
	CHECK_SYS(futimens(fd, NULL));
	CHECK_SYS(close(fd));
	CHECK_EQ(mode_in("primary", SHADOW "/x"), 0644);
	CHECK_EQ(mode_in("secondary", SHADOW "/x"), 0644);

	/* Renamed away: changed by the name it has now, on both members. */
	write_file(SHADOW "/a", "a\n");
	write_file(SHADOW "/b", "b\n");
	CHECK_SYS(chmod(SHADOW "/b", 0644));
	fd = CHECK_SYS(open(SHADOW "/a", O_RDONLY));
	CHECK_SYS(rename(SHADOW "/a", SHADOW "/kept"));
	CHECK_SYS(rename(SHADOW "/b", SHADOW "/a"));
	CHECK_SYS(fchown(fd, 0, 0));
	CHECK_SYS(fchmod(fd, 0604));
	CHECK_SYS(close(fd));
	CHECK_EQ(mode_in("secondary", SHADOW "/a"), 0644);
	CHECK_EQ(mode_in("primary", SHADOW "/kept"), 0604);
	CHECK_EQ(mode_in("secondary", SHADOW "/kept"), 0604);

	/* The name it was opened by removed, another kept (a hard link) in another
	 * directory: no name the shim knows finds the follower's file. An fsync flushes the
	 * follower's file system instead (before, the file was reported insecure, 00020). */
	write_file(SHADOW "/linked", "l\n");
	CHECK_SYS(mkdir(SHADOW "/sub", 0755));
	CHECK_SYS(link(SHADOW "/linked", SHADOW "/sub/other"));
	fd = CHECK_SYS(open(SHADOW "/linked", O_RDONLY));
	CHECK_SYS(unlink(SHADOW "/linked"));
	CHECK_SYS(fsync(fd));
	CHECK_SYS(fdatasync(fd));
	CHECK_SYS(close(fd));

	/* Still at its name: mirrored. */
	fd = CHECK_SYS(open(SHADOW "/a", O_RDONLY));
	CHECK_SYS(fchmod(fd, 0640));
	CHECK_SYS(close(fd));
	CHECK_EQ(mode_in("secondary", SHADOW "/a"), 0640);
	return 0;
}
