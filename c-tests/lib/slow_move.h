/* slow_move.h - for the tests that run with lib/slow_move.c preloaded after the shim
 * (built beside them as libslow_move.so): the first run re-execs the test with it added to
 * LD_PRELOAD; slow_move_fn finds one of its functions. */
#include <dlfcn.h>
#include <libgen.h>

static inline void with_slow_move(char **argv)
{
	if (getenv("SLOW_MOVE_LOADED"))
		return;
	char self[4096], lib[4200], preload[8600];
	ssize_t n = CHECK_SYS(readlink("/proc/self/exe", self, sizeof self - 1));
	self[n] = 0;
	snprintf(lib, sizeof lib, "%s/libslow_move.so", dirname(self));
	const char *shim = getenv("LD_PRELOAD");
	CHECK(shim != NULL);
	snprintf(preload, sizeof preload, "%s %s", shim, lib);
	CHECK_SYS(setenv("LD_PRELOAD", preload, 1));
	CHECK_SYS(setenv("SLOW_MOVE_LOADED", "1", 1));
	execv("/proc/self/exe", argv);
	CHECK(!"execv");
}

static inline void *slow_move_fn(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	CHECK(f != NULL);
	return f;
}

/* Makes directory /shadow/d and opens it while `thread` runs, told (through the pipe
 * `tell`, which it reads) the number of the shim's own open of the follower's twin, which
 * is held 100 ms from there; the program's fd once the thread is done. */
static inline int open_d_beside(void *(*thread)(void *), int tell[2])
{
	void (*arm)(const char *, int) = (void (*)(const char *, int))slow_move_fn("slow_open_arm");
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(pipe(tell));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread, NULL) == 0);
	arm("d", tell[1]);
	int d = CHECK_SYS(open(SHADOW "/d", O_RDONLY | O_DIRECTORY));
	CHECK(pthread_join(t, NULL) == 0);
	return d;
}
