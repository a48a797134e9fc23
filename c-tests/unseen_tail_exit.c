// unseen_tail_exit: a child writes through glibc's internal calls (backtrace_symbols_fd)
// after its last write the shim saw, then leaves by _exit, which copies nothing (it must
// stay async-signal-safe): the follower lacks that tail. It is reported and the file left
// to recover, never passed over in silence (before, _exit ended the file's intent as if
// the members were level).
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/log\]\[[^]]*/secondary/log\]\[bytes the shim did not see, at _exit\]$
#include "check.h"
#include <execinfo.h>

int main(void)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		void *frames[4];
		int n = backtrace(frames, 4);
		int fd = CHECK_SYS(open(SHADOW "/log", O_WRONLY | O_CREAT | O_APPEND, 0644));
		CHECK_SYS(write(fd, "seen\n", 5));
		backtrace_symbols_fd(frames, n, fd);
		_exit(0);
	}
	wait_ok_at(HERE, pid);
	printf("an unseen tail at _exit: reported\n");
	return 0;
}
