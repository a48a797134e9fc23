// slow_move: preloaded after the shim, so that its fcntl and openat64 are the ones the
// shim's own calls reach (the shim finds libc's functions with dlsym(RTLD_NEXT)). Armed
// with a number, the shim's move of a fd up from that number (F_DUPFD_CLOEXEC) tells the
// program, through a pipe, and waits 100 ms before it is made; armed with a name, the
// shim's own open of that name (close-on-exec, as the shim's are) tells the program the
// number it got and waits 100 ms before the shim sees it. Both widen the window in which
// one of the shim's fds sits at the program's lowest free number. Built to
// build/libslow_move.so.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int armed = -1, tell = -1;
static const char *armed_name;

void slow_move_arm(int fd, int notify)
{
	armed = fd;
	tell = notify;
}

void slow_open_arm(const char *name, int notify)
{
	armed_name = name;
	tell = notify;
}

/* Tells the program `fd` and gives it 100 ms to act on it. */
static void told(int fd)
{
	int to = tell;
	armed = tell = -1;
	armed_name = NULL;
	if (write(to, &fd, sizeof fd) == sizeof fd)
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	static int (*next)(int, const char *, int, ...);
	va_list ap;
	va_start(ap, flags);
	int mode = va_arg(ap, int);
	va_end(ap);
	if (!next)
		next = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat64");
	int fd = next(dirfd, path, flags, mode);
	if (fd >= 0 && armed_name && tell >= 0 && (flags & O_CLOEXEC) && strcmp(path, armed_name) == 0)
		told(fd);
	return fd;
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
	if (cmd == F_DUPFD_CLOEXEC && fd == armed && tell >= 0)
		told(fd);
	return next(fd, cmd, arg);
}
