// proc_other_dirs: paths through another process's directories, /proc/PID/cwd/name and
// /proc/PID/fd/N/name with N a directory fd, reach both members: the directory is taken
// by the name the kernel gives it now (renames included) and the rest walked from it.
// Before, the kernel walked them on the primary alone, unreported (a supervisor creating a
// file in its child's cwd). The process's own, /proc/<its pid>/cwd/name (a shell's $$),
// is /proc/self/cwd/name. The cwd links themselves, followed (an open, chmod), are their
// directories on both members, however the path to them is spelled (`/proc//PID`,
// `task/TID/`).
#include "check.h"

#include <sys/xattr.h>

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(mkdir(SHADOW "/e", 0755));
	int ready[2], done[2];
	CHECK_SYS(pipe(ready));
	CHECK_SYS(pipe(done));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(chdir(SHADOW "/d"));
		int fd = CHECK_SYS(open(SHADOW "/e", O_RDONLY | O_DIRECTORY));
		char c;
		CHECK(write(ready[1], &fd, sizeof fd) == (ssize_t)sizeof fd);
		CHECK(read(done[0], &c, 1) == 1);
		_exit(0);
	}
	int fd;
	CHECK(read(ready[0], &fd, sizeof fd) == (ssize_t)sizeof fd);
	const char *cwd = xasprintf("/proc/%d/cwd", (int)pid);
	const char *dir = xasprintf("/proc/%d/fd/%d", (int)pid, fd);

	// In the child's cwd: create, write, rename, link, symlink, mkdir, chmod, xattr, unlink.
	int f = CHECK_SYS(open(xasprintf("%s/made", cwd), O_WRONLY | O_CREAT | O_EXCL, 0644));
	write_str(f, "through the child's cwd\n");
	CHECK_SYS(close(f));
	CHECK_SYS(rename(xasprintf("%s/made", cwd), xasprintf("%s//renamed", cwd)));
	CHECK_SYS(link(xasprintf("%s/renamed", cwd), xasprintf("%s/linked", cwd)));
	CHECK_SYS(symlink("renamed", xasprintf("%s/sym", cwd)));
	CHECK_SYS(mkdir(xasprintf("%s/sub", cwd), 0700));
	CHECK_SYS(chmod(xasprintf("%s/renamed", cwd), 0640));
	CHECK_SYS(setxattr(xasprintf("%s/renamed", cwd), "user.via", "cwd", 3, 0));
	write_file(xasprintf("%s/gone", cwd), "x");
	CHECK_SYS(unlink(xasprintf("%s/gone", cwd)));
	// `..` from it climbs as the kernel climbs: into /shadow/e.
	write_file(xasprintf("%s/../e/up", cwd), "climbed\n");

	// The child's directory fd, renamed while held.
	CHECK_SYS(rename(SHADOW "/e", SHADOW "/e2"));
	write_file(xasprintf("%s/in-e", dir), "through the child's dir fd\n");
	CHECK_SYS(mkdir(xasprintf("%s/sub", dir), 0755));
	CHECK_SYS(truncate(xasprintf("%s/up", dir), 3));

	// The process's own, by number.
	CHECK_SYS(chdir(SHADOW "/e2"));
	write_file(xasprintf("/proc/%d/cwd/own", (int)getpid()), "own cwd\n");
	int mine = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	write_file(xasprintf("/proc/%d/fd/%d/own", (int)getpid(), mine), "own fd\n");
	CHECK_SYS(close(mine));

	// The cwd links themselves, followed: an fd opened by one is the shim's (files made
	// relative to it reached the primary alone), and chmod through one reaches both.
	int here = CHECK_SYS(open("/proc/self/cwd", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(close(CHECK_SYS(openat(here, "via-self", O_WRONLY | O_CREAT, 0644))));
	CHECK_SYS(close(here));
	CHECK_SYS(chmod("/proc/self/cwd", 0750));
	int there = CHECK_SYS(open(cwd, O_RDONLY | O_DIRECTORY));
	CHECK_SYS(mkdirat(there, "via-child", 0755));
	CHECK_SYS(close(there));
	CHECK_SYS(chmod(cwd, 0751));
	char seen[4096];
	CHECK(readlink("/proc/self/cwd", seen, sizeof seen) > 0);

	// The other spellings the kernel takes: repeated slashes, a thread's task/TID/.
	write_file(xasprintf("/proc//%d/cwd/dslash0", (int)pid), "");
	write_file(xasprintf("/proc/%d//cwd//dslash1", (int)pid), "");
	write_file(xasprintf("/proc/%d/task/%d/cwd/task", (int)pid, (int)pid), "");
	write_file(xasprintf("/proc/self/task/%d/cwd/selftask", (int)gettid()), "");
	write_file(xasprintf("/proc/%d/./task/%d/fd/%d/fdtask", (int)pid, (int)pid, fd), "");

	CHECK(write(done[1], "x", 1) == 1);
	wait_ok(pid);
	EXPECT_FILE(member_path("secondary", SHADOW "/e2/via-self"), "");
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/e2")).st_mode & 07777, 0750);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/d/via-child")).st_mode & 07777, 0755);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/d")).st_mode & 07777, 0751);
	for (const char **n = (const char *[]){"d/dslash0", "d/dslash1", "d/task", "e2/selftask", "e2/fdtask", NULL}; *n; n++)
		EXPECT_FILE(member_path("secondary", xasprintf(SHADOW "/%s", *n)), "");

	EXPECT_FILE(member_path("secondary", SHADOW "/d/renamed"), "through the child's cwd\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/d/linked"), "through the child's cwd\n");
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/d/renamed")).st_nlink, 2);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/d/renamed")).st_mode & 07777, 0640);
	char v[8];
	CHECK_EQ(getxattr(member_path("secondary", SHADOW "/d/renamed"), "user.via", v, sizeof v), 3);
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/d/sub")).st_mode & 07777, 0700);
	EXPECT_MISSING(member_path("secondary", SHADOW "/d/gone"));
	EXPECT_FILE(member_path("secondary", SHADOW "/e2/up"), "cli");
	EXPECT_FILE(member_path("secondary", SHADOW "/e2/in-e"), "through the child's dir fd\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/e2/own"), "own cwd\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/d/own"), "own fd\n");
	return 0;
}
