// cwd_moved: a cwd or a directory fd whose directory another process (or this one) moved
// since the chdir or the open. The shim named it by the name it had then: `..` from a cwd
// moved one level deeper climbed out of the prefix by the old depth (the host's /x got the
// write, neither member did, unreported); `./script` was looked up by the old name (not
// found, or another file's `#!`); the journal and name locks named the old place (a change
// through a read-only fd opened there was reported and never repaired); getcwd of a removed
// cwd gave a name where natively it fails with ENOENT. Now the kernel is asked for the name
// again whenever a directory of the set has moved; where it cannot name it (removed), `..`
// is counted by walking it.
#include "check.h"

#include <sys/wait.h>

static void moved_by_another_process(const char *from, const char *to)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0)
		_exit(rename(from, to) == 0 ? 0 : 1);
	wait_ok(pid);
}

int main(void)
{
	char host[64];
	snprintf(host, sizeof host, "/libshadow-cwd-moved-%d", (int)getpid());
	CHECK_SYS(mkdir(SHADOW "/a", 0755));
	CHECK_SYS(mkdir(SHADOW "/c", 0755));
	CHECK_SYS(chdir(SHADOW "/c"));
	moved_by_another_process(SHADOW "/c", SHADOW "/a/b");

	char cwd[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_STREQ(cwd, SHADOW "/a/b");
	// Two levels up from a/b is the prefix root, not the host's /.
	write_file(xasprintf("../..%s", host), "up two\n");
	EXPECT_FILE(xasprintf("%s%s", SHADOW, host), "up two\n");
	EXPECT_FILE(member_path("secondary", xasprintf("%s%s", SHADOW, host)), "up two\n");
	EXPECT_MISSING(host);

	// A script in the moved cwd runs as `./s.sh` and writes next to itself.
	write_file("s.sh", "#!/bin/sh\necho ran > out\n");
	CHECK_SYS(chmod("s.sh", 0755));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl("./s.sh", "./s.sh", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	EXPECT_FILE(member_path("secondary", SHADOW "/a/b/out"), "ran\n");

	// A change through a read-only fd opened in the moved cwd reaches both members by the
	// name it has now (with the old name it was reported instead).
	write_file("f", "f\n");
	moved_by_another_process(SHADOW "/a", SHADOW "/a2");
	int ro = CHECK_SYS(open("f", O_RDONLY));
	CHECK_SYS(fchmod(ro, 0600));
	CHECK_SYS(close(ro));
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/a2/b/f")).st_mode & 07777, 0600);

	// A directory fd moved by this process, then deeper by another.
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	int d = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(rename(SHADOW "/d", SHADOW "/a2/d"));
	moved_by_another_process(SHADOW "/a2", SHADOW "/e");
	int f = CHECK_SYS(openat(d, xasprintf("../..%s", host), O_WRONLY | O_APPEND));
	write_str(f, "through the fd\n");
	CHECK_SYS(close(f));
	CHECK_SYS(mkdirat(d, "../sub", 0700));
	CHECK_SYS(close(d));
	EXPECT_FILE(member_path("secondary", xasprintf("%s%s", SHADOW, host)), "up two\nthrough the fd\n");
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/e/sub")).st_mode & 07777, 0700);
	EXPECT_MISSING(host);

	// Moved deeper, then removed: the kernel cannot name it, but `..` still climbs through
	// its parents; by the recorded depth the climb left the prefix for the host's /.
	CHECK_SYS(mkdir(SHADOW "/m", 0755));
	CHECK_SYS(mkdir(SHADOW "/m/n", 0755));
	int n = CHECK_SYS(open(SHADOW "/m/n", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(chdir(SHADOW "/m/n"));
	moved_by_another_process(SHADOW "/m", SHADOW "/e/m");
	CHECK_SYS(rmdir(SHADOW "/e/m/n"));
	write_file(xasprintf("../../..%s", host), "from a removed cwd\n");
	EXPECT_FILE(member_path("secondary", xasprintf("%s%s", SHADOW, host)), "from a removed cwd\n");
	f = CHECK_SYS(openat(n, xasprintf("../../..%s", host), O_WRONLY | O_APPEND));
	write_str(f, "from a removed dir fd\n");
	CHECK_SYS(close(f));
	CHECK_SYS(close(n));
	EXPECT_FILE(member_path("secondary", xasprintf("%s%s", SHADOW, host)), "from a removed cwd\nfrom a removed dir fd\n");
	EXPECT_MISSING(host);

	// A removed cwd has no name, as natively.
	CHECK_SYS(mkdir(SHADOW "/gone", 0755));
	CHECK_SYS(chdir(SHADOW "/gone"));
	moved_by_another_process(SHADOW "/gone", SHADOW "/e/gone");
	CHECK_SYS(rmdir(SHADOW "/e/gone"));
	errno = 0;
	CHECK(getcwd(cwd, sizeof cwd) == NULL);
	CHECK_EQ(errno, ENOENT);
	CHECK_SYS(chdir("/"));
	CHECK_SYS(unlink(xasprintf("%s%s", SHADOW, host)));
	return 0;
}
