// created_then_killed: a file created under the prefix by a child that then execs a
// program with the file as its stdout, and is killed before that program closes it
// (`sleep 5 > /shadow/d/out &` then `kill`), has the same times on both members. The
// members' kernels each stamp their own "now" at the creation, a tick apart at times;
// a last close gives the follower the lead's times, but this file's only close is the
// kill. Before, the exec carried the creation's intent into the new image, which ended it
// once the file's bytes were level, with the times left unequal: a difference `verify`
// found and `recover`, with nothing due, never repaired. The creations are many, each
// timed like the shell's loop that found it, so a tick falls between the members' stamps
// in some of them. The new image is this program again, which says from main that it
// runs: under load a fixed pause let the kill come before the child had created the file,
// and a kill before the new image's shim has started is a crash (its carried intents are
// still open), which `recover` must look at.
// timeout: 60
#include "check.h"
#include <signal.h>

#define ROUNDS 24

int main(int argc, char **argv)
{
	if (argc == 3) {
		int started = atoi(argv[2]);
		if (write(started, "x", 1) != 1)
			return 126;
		pause();
		return 0;
	}
	for (int i = 0; i < ROUNDS; i++) {
		char *dir = xasprintf(SHADOW "/d%d", i), *out = xasprintf("%s/out", dir);
		CHECK_SYS(mkdir(dir, 0755));
		int started[2];
		CHECK_SYS(pipe2(started, O_CLOEXEC));
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0) {
			close(started[0]);
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) != 1)
				_exit(126);
			close(fd);
			char *fd_arg = xasprintf("%d", started[1]);
			if (fcntl(started[1], F_SETFD, 0) < 0)
				_exit(126);
			execl("/proc/self/exe", argv[0], "started", fd_arg, (char *)NULL);
			_exit(127);
		}
		close(started[1]);
		char byte;
		CHECK(read(started[0], &byte, 1) == 1);
		close(started[0]);
		CHECK_SYS(kill(pid, SIGKILL));
		int status;
		CHECK_SYS(waitpid(pid, &status, 0));
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	for (int i = 0; i < ROUNDS; i++) {
		char *vout = xasprintf(SHADOW "/d%d/out", i);
		struct stat p, s;
		CHECK_SYS(stat(member_path("primary", vout), &p));
		CHECK_SYS(stat(member_path("secondary", vout), &s));
		if (p.st_mtim.tv_sec != s.st_mtim.tv_sec || p.st_mtim.tv_nsec != s.st_mtim.tv_nsec)
			check_fail(HERE, 0, "%s: mtime %ld.%09ld on the primary, %ld.%09ld on the secondary", vout,
				   (long)p.st_mtim.tv_sec, p.st_mtim.tv_nsec, (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
	}
	return 0;
}
