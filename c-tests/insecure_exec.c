// insecure_exec: a file whose follower refused a write, still open in a process that then
// execs with the fd inherited, is reported (00020) and leaves recover due. Two places could
// lose that: the old image never reaches the file's last close (where the report is made),
// and the new image ends the intents the old one carried once it has adopted the fds. It
// held when this test was written; the test keeps it so. The follower's file is made
// immutable while the child holds it open, so its next write fails EPERM there.
// expect-verify: differ
// expect-recover: needed
// expect-history: ^00020 \[[^]]*/primary/f\]\[[^]]*/secondary/f\]\[.*Operation not permitted.*\]$
#include "lib/refused_write.h"

static void leave(int fd)
{
	CHECK_SYS(fsync(fd));
	/* The fd stays open in the new image, which writes nothing and ends. */
	execl("/bin/true", "true", (char *)NULL);
}

int main(void)
{
	refused_write_then(leave);
	return 0;
}
