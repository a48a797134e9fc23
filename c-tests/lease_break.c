// lease_break: a process holding a write lease (F_SETLEASE, as Samba's oplocks are) on a
// file in the set is told to make way when another process opens the file for writing or
// truncates it; it writes its last bytes (and here renames a directory of the set) and
// lets the lease go, and only then does the other process's call go on, as natively: the
// file ends with the other process's bytes over the holder's. Before, that open or
// truncate waited for the lease holding the shim's name and file locks, which the holder's
// write or rename needed first: both sat out the whole lease-break time (45 s by default)
// and the holder's last write landed after the truncation it had made way for. A write
// reopen through /proc/self/fd/N of a file held read-only, which breaks a read lease,
// likewise (that one changes no bytes the holder could write: only the 45 s showed it,
// hence the timeout below).
// timeout: 30
#include "check.h"

#include <signal.h>

static volatile sig_atomic_t told;
static void on_sigio(int sig) { (void)sig; told = 1; }

static void holder_then(const char *how, const char *want)
{
	const char *f = SHADOW "/leased";
	told = 0;
	int fd = CHECK_SYS(open(f, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(write(fd, "original\n", 9));
	CHECK_SYS(fcntl(fd, F_SETLEASE, F_WRLCK));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		if (strcmp(how, "truncate") == 0) {
			CHECK_SYS(truncate(f, 2));
		} else {
			int flags = O_WRONLY | (strcmp(how, "trunc") == 0 ? O_TRUNC : 0);
			int w = CHECK_SYS(open(f, flags));
			CHECK_SYS(write(w, "B\n", 2));
			CHECK_SYS(close(w));
		}
		_exit(0);
	}
	while (!told)
		pause();
	if (strcmp(how, "rename") == 0)
		CHECK_SYS(rename(SHADOW "/dir", SHADOW "/dir2"));
	CHECK_EQ(pwrite(fd, "FLUSHED", 7, 0), 7);
	CHECK_SYS(fcntl(fd, F_SETLEASE, F_UNLCK));
	wait_ok(pid);
	CHECK_SYS(close(fd));
	EXPECT_FILE(f, want);
	EXPECT_SAME_ON_MEMBERS(f);
}

/* A read lease on the file; another process reopens its read-only fd for writing. */
static void read_holder_then_reopen(void)
{
	const char *f = SHADOW "/leased";
	told = 0;
	int fd = CHECK_SYS(open(f, O_RDONLY));
	CHECK_SYS(fcntl(fd, F_SETLEASE, F_RDLCK));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int r = CHECK_SYS(open(f, O_RDONLY));
		int w = CHECK_SYS(open(xasprintf("/proc/self/fd/%d", r), O_WRONLY));
		CHECK_SYS(write(w, "R\n", 2));
		_exit(0);
	}
	while (!told)
		pause();
	CHECK_SYS(rename(SHADOW "/dir2", SHADOW "/dir"));
	CHECK_SYS(fcntl(fd, F_SETLEASE, F_UNLCK));
	wait_ok(pid);
	CHECK_SYS(close(fd));
	EXPECT_FILE(f, "R\nUSHEDl\n");
	EXPECT_SAME_ON_MEMBERS(f);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_sigio;
	CHECK_SYS(sigaction(SIGIO, &sa, NULL));
	CHECK_SYS(mkdir(SHADOW "/dir", 0755));
	holder_then("trunc", "B\n");
	holder_then("truncate", "FL");
	holder_then("rename", "B\nUSHEDl\n");
	read_holder_then_reopen();
	printf("a lease holder makes way before the other process's open or truncate goes on\n");
	return 0;
}
