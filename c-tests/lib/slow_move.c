// slow_move: preloaded after the shim, so that its fcntl is the one the shim's own calls
// reach (the shim finds libc's functions with dlsym(RTLD_NEXT)). Armed with a number, the
// shim's move of a fd up from that number (F_DUPFD_CLOEXEC) tells the program, through a
// pipe, and waits 100 ms before it is made: the window in which one of the shim's fds sits
// at the program's lowest free number, made wide. Built to build/libslow_move.so.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

static int armed = -1, tell = -1;

void slow_move_arm(int fd, int notify)
{
	armed = fd;
	tell = notify;
}

int fcntl(int fd, int cmd, ...)
{
	static int (*next)(int, int, ...);
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	if (!next)
		next = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
	if (cmd == F_DUPFD_CLOEXEC && fd == armed && tell >= 0) {
		int to = tell;
		armed = tell = -1;
		if (write(to, &fd, sizeof fd) == sizeof fd)
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	return next(fd, cmd, arg);
}
