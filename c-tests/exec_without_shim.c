// exec_without_shim: a mirrored program execs one the shim cannot enter (statically
// linked: the loader ignores LD_PRELOAD), first with a file under the prefix open for
// writing, then from a working directory under the prefix. The new program's writes reach
// the primary alone. Each inherited file is reported (00020, naming the program and why) at
// the exec and its intent stays open, so recover is due; the working directory is reported
// too (00130). Before, nothing named the cause: the new image's end was taken for a crash
// (`00101 ... ended with changes in flight`), and the file it made by a relative path went
// unreported.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/f\]\[[^]]*/secondary/f\]\[inherited open for writing by [^]]*/static_writer: statically linked; LD_PRELOAD cannot reach it and it would run un-mirrored\]$
// expect-history: ^00130 \[[^]]*/primary/dir\]\[[^]]*/secondary/dir\]\[working directory of [^]]*/static_writer: statically linked; LD_PRELOAD cannot reach it and it would run un-mirrored: its changes by a relative path reach the primary alone\]$
#include "check.h"

#include <libgen.h>
#include <limits.h>

int main(void)
{
	char self[PATH_MAX];
	ssize_t n = CHECK_SYS(readlink("/proc/self/exe", self, sizeof self - 1));
	self[n] = '\0';
	char helper[PATH_MAX];
	snprintf(helper, sizeof helper, "%s/static_writer", dirname(self));

	int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "before\n");
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(dup2(fd, 3));
		execl(helper, "static_writer", "unmirrored\n", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	write_str(fd, "after\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(member_path("primary", SHADOW "/f"), "before\nunmirrored\nafter\n");

	CHECK_SYS(mkdir(SHADOW "/dir", 0755));
	CHECK_SYS(chdir(SHADOW "/dir"));
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl(helper, "static_writer", "relative\n", "made_here", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);
	EXPECT_FILE(member_path("primary", SHADOW "/dir/made_here"), "relative\n");
	return 0;
}
