// raw_system_calls: system calls made by `syscall` instructions in the program's own code,
// without the C library, as Rust programs on rustix's linux_raw backend make them (cargo's
// tempfile among them): an absolute path under the prefix, a path relative to a working
// directory under it, a rename, in the main thread, in a pthread and in a fork child. The
// kernel's syscall user dispatch (Linux 6.17+, inclusive over the executable's code) traps
// each into the shim, which makes it as syscall(2)'s hook does: results and errno as
// natively, members identical. Before, the absolute path failed (ENOENT: the kernel was
// handed the virtual path) and the relative ones reached the primary alone, unreported.
// Also: the thread's errno is left alone; a raw execve's image gets the program's signal
// mask; a raw rt_sigprocmask changes the thread's mask
// (made in the handler, it would be undone by the handler's return); SIGSYS ignored by a
// raw rt_sigaction does not kill the process at the next trapped call; nor does SIGSYS
// blocked (the shim keeps it unblocked: helper-56), nor a raw call in a handler that runs
// while the trap handler makes a raw read.
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/syscall.h>

static long raw(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return r;
}

static void make(const char *path, const char *content)
{
	long fd = raw(SYS_openat, AT_FDCWD, (long)path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		check_fail(HERE, (int)-fd, "raw openat(\"%s\")", path);
	CHECK_EQ(raw(SYS_write, fd, (long)content, (long)strlen(content), 0), (long)strlen(content));
	CHECK_EQ(raw(SYS_close, fd, 0, 0, 0), 0);
}

static void *in_thread(void *arg)
{
	(void)arg;
	make("made-by-thread", "thread\n");
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
	make("made-in-a-handler", "handler\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		/* Started by exec with every signal blocked: the raw calls still work. */
		make("made-after-an-exec-with-all-blocked", "exec\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "via-loader") == 0) {
		make("made-through-the-loader", "loader\n");
		return 0;
	}

	struct utsname u;
	int major = 0, minor = 0;
	CHECK_SYS(uname(&u));
	if (sscanf(u.release, "%d.%d", &major, &minor) != 2 || major * 100 + minor < 617)
		check_fail(HERE, 0, "kernel %s has no inclusive syscall user dispatch (Linux 6.17+): the test cannot run", u.release);

	/* Found in this program's code, so its calls trap (see dispatch_only_for_code_that_calls.c). */
	CHECK_STREQ(own_code_verdict(), "syscall");

	CHECK_SYS(mkdir(SHADOW "/raw", 0755));
	make(SHADOW "/raw/absolute", "absolute\n");
	CHECK_EQ(raw(SYS_openat, AT_FDCWD, (long)SHADOW "/raw/missing", O_RDONLY, 0), -ENOENT);

	CHECK_SYS(chdir(SHADOW "/raw"));
	make("relative", "relative\n");
	CHECK_EQ(raw(SYS_mkdirat, AT_FDCWD, (long)"dir", 0755, 0), 0);
	CHECK_EQ(raw(SYS_renameat, AT_FDCWD, (long)"relative", AT_FDCWD, (long)"dir/moved"), 0);
	CHECK_EQ(raw(SYS_mkdirat, AT_FDCWD, (long)"dir", 0755, 0), -EEXIST);

	errno = 77;
	CHECK(raw(SYS_getpid, 0, 0, 0, 0) == getpid());
	CHECK_EQ(errno, 77);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, in_thread, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);

	pid_t child = CHECK_SYS(fork());
	if (child == 0) {
		make("made-by-child", "child\n");
		_exit(0);
	}
	wait_ok(child);

	/* A raw execve: the new image starts with the program's mask, not the trap handler's. */
	child = CHECK_SYS(fork());
	if (child == 0) {
		/* grep leaves its mask as exec gave it (a shell would reset it). */
		char *argv[] = { "grep", "-q", "^SigBlk:[[:space:]]*0*$", "/proc/self/status", NULL };
		raw(SYS_execve, (long)"/bin/grep", (long)argv, (long)environ, 0);
		_exit(127);
	}
	wait_ok(child);

	unsigned long block = 1UL << (SIGUSR1 - 1), was = 0;
	CHECK_EQ(raw(SYS_rt_sigprocmask, SIG_BLOCK, (long)&block, (long)&was, 8), 0);
	sigset_t now;
	CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &now));
	CHECK(sigismember(&now, SIGUSR1));

	unsigned long ignore[4] = { (unsigned long)SIG_IGN, 0x04000000, 0, 0 };
	CHECK_EQ(raw(SYS_rt_sigaction, SIGSYS, (long)ignore, 0, 8), 0);
	make("after-sigsys-ignored", "still here\n");

	/* SIGSYS is never blocked while the calls trap (the kernel would kill the thread):
	 * every signal blocked through libc, or by a raw rt_sigprocmask, or inherited so
	 * across exec; a handler's raw call while the trap handler makes a raw read. */
	sigset_t all;
	sigfillset(&all);
	CHECK(pthread_sigmask(SIG_BLOCK, &all, &now) == 0);
	make("made-with-all-blocked", "blocked\n");
	CHECK(pthread_sigmask(SIG_SETMASK, &now, NULL) == 0);
	unsigned long every = ~0UL, before = 0;
	CHECK_EQ(raw(SYS_rt_sigprocmask, SIG_BLOCK, (long)&every, (long)&before, 8), 0);
	make("made-with-all-blocked-raw", "raw blocked\n");
	CHECK_EQ(raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&before, 0, 8), 0);
	child = CHECK_SYS(fork());
	if (child == 0) {
		CHECK(pthread_sigmask(SIG_BLOCK, &all, NULL) == 0);
		execl("/proc/self/exe", "raw_system_calls", "exec", (char *)NULL);
		_exit(127);
	}
	wait_ok(child);

	/* Run by the loader (`ld.so PROGRAM`): /proc/self/exe is then the loader, whatever
	 * program it runs, so the shim's answer for the code it looked at is not kept under
	 * the loader's name (a program without a `syscall` run so first made this one's
	 * calls go untrapped). */
	static const char loader[] = "/lib64/ld-linux-x86-64.so.2";
	char self[4096];
	ssize_t len = CHECK_SYS(readlink("/proc/self/exe", self, sizeof self - 1));
	self[len] = 0;
	child = CHECK_SYS(fork());
	if (child == 0) {
		execl(loader, loader, "/bin/true", (char *)NULL);
		_exit(127);
	}
	wait_ok(child);
	child = CHECK_SYS(fork());
	if (child == 0) {
		execl(loader, loader, self, "via-loader", (char *)NULL);
		_exit(127);
	}
	wait_ok(child);
	EXPECT_FILE(SHADOW "/raw/made-through-the-loader", "loader\n");

	int pipe_fds[2];
	CHECK_SYS(pipe(pipe_fds));
	struct sigaction sa = { .sa_handler = on_alarm };
	sigfillset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	CHECK_SYS(alarm(1));
	char none;
	CHECK_EQ(raw(SYS_read, pipe_fds[0], (long)&none, 1, 0), -EINTR);

	EXPECT_FILE(SHADOW "/raw/made-with-all-blocked", "blocked\n");
	EXPECT_FILE(SHADOW "/raw/made-with-all-blocked-raw", "raw blocked\n");
	EXPECT_FILE(SHADOW "/raw/made-after-an-exec-with-all-blocked", "exec\n");
	EXPECT_FILE(SHADOW "/raw/made-in-a-handler", "handler\n");
	EXPECT_FILE(SHADOW "/raw/absolute", "absolute\n");
	EXPECT_FILE(SHADOW "/raw/dir/moved", "relative\n");
	EXPECT_FILE(SHADOW "/raw/made-by-thread", "thread\n");
	EXPECT_FILE(SHADOW "/raw/made-by-child", "child\n");
	EXPECT_FILE(SHADOW "/raw/after-sigsys-ignored", "still here\n");
	return 0;
}
