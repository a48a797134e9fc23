// insecure_exit: a file whose follower refused a write is reported (00020) when its
// process leaves by _exit too (a forked worker; dash always leaves so). _exit runs no exit
// handlers, and the report was made only at the file's last close or at exit: the members
// differed with nothing in the history (status said recover was due). Then the report
// ended the file's intent, so recover was no longer due: it stays due now. The follower's file
// is made immutable while the child holds it open, so its next write fails EPERM there.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/f\]\[[^]]*/secondary/f\]\[.*Operation not permitted.*\]$
#include "lib/refused_write.h"

static void leave(int fd)
{
	(void)fd;
	_exit(0);
}

int main(void)
{
	refused_write_then(leave);
	return 0;
}
