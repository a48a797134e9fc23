// fd_listing_hides_the_shims_fds: a program that lists its own fds (/proc/self/fd,
// /dev/fd, /proc/PID/fd, with opendir and readdir, or scandir) sees those it has, as
// natively, not the shim's: after it changes into the prefix and opens a file for writing
// there, its listings hold what they held at its start and that file's fd, not the shim's
// cwd on each member or the follower's file; fstat, fcntl, *at calls relative to the
// shim's numbers and writes, truncations, flushes, metadata changes and fchdir on them answer EBADF. Before, it saw three numbers more (CPython's
// test_subprocess saw eight it never opened), and an openat relative to one reached a
// member's directory alone. A rename between a number the program does not have and the
// prefix answers EBADF, as natively, not EXDEV.
#include "check.h"
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* The fds `path` lists, the listing's own aside, as a bitmap of the first 2048. */
static void listed(const char *path, unsigned char *fds)
{
	DIR *d = CHECK_PTR(opendir(path));
	struct dirent *e;
	memset(fds, 0, 2048);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd < 2048)
			fds[fd] = 1;
	}
	closedir(d);
}

int main(void)
{
	static unsigned char at_start[2048], now[2048];
	listed("/proc/self/fd", at_start);
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	int fd = CHECK_SYS(open("f", O_WRONLY | O_CREAT, 0644));
	write_all(fd, "x", 1);
	at_start[fd] = 1;
	char own[64];
	snprintf(own, sizeof own, "/proc/%d/fd/", (int)getpid());
	const char *paths[] = { "/proc/self/fd", "/dev/fd/", own };
	for (int p = 0; p < 3; p++) {
		listed(paths[p], now);
		for (int i = 0; i < 2048; i++)
			if (now[i] != at_start[i])
				check_fail(HERE, 0, "%s: fd %d %s", paths[p], i, now[i] ? "listed, which the program never opened" : "not listed");
	}
	// scandir lists its own fd too: the lowest number free.
	int its_own = CHECK_SYS(dup(0));
	close(its_own);
	struct dirent **names;
	int n = CHECK_SYS(scandir("/proc/self/fd", &names, NULL, alphasort));
	memset(now, 0, sizeof now);
	while (n--) {
		int listed_fd = atoi(names[n]->d_name);
		if (names[n]->d_name[0] != '.' && listed_fd != its_own && listed_fd < 2048)
			now[listed_fd] = 1;
		free(names[n]);
	}
	free(names);
	for (int i = 0; i < 2048; i++)
		if (now[i] && !at_start[i])
			check_fail(HERE, 0, "scandir: fd %d listed, which the program never opened", i);
	// Nor do probes of every number (fstat, fcntl: CPython's fd_status.py, closefrom
	// emulations) find the shim's open.
	for (int i = 0; i < 2048; i++) {
		struct stat st;
		int by_stat = fstat(i, &st) == 0, by_fcntl = fcntl(i, F_GETFD) != -1;
		if (by_stat != at_start[i] || by_fcntl != at_start[i])
			check_fail(HERE, 0, "fd %d: fstat %s, fcntl %s", i, by_stat ? "answers" : "fails", by_fcntl ? "answers" : "fails");
	}
	// Nor calls relative to such a number, which natively answer EBADF (made, they reached
	// one member's directory alone).
	for (int i = 3; i < 2048; i++) {
		struct stat st;
		if (at_start[i])
			continue;
		int made = openat(i, "probe", O_WRONLY | O_CREAT, 0644);
		if (made != -1 || errno != EBADF)
			check_fail(HERE, 0, "openat relative to fd %d, which the program does not have: %s", i, made == -1 ? strerror(errno) : "made");
		if (fstatat(i, "", &st, AT_EMPTY_PATH) != -1 || errno != EBADF)
			check_fail(HERE, 0, "fstatat of fd %d, which the program does not have, answers", i);
		if (renameat(i, "probe", AT_FDCWD, "moved") != -1 || errno != EBADF)
			check_fail(HERE, errno, "renameat relative to fd %d, which the program does not have", i);
	}
	// Nor calls on such a number itself: a stale or guessed fd's write, truncation, flush
	// or change of times (made, they reached the write-intent journal or the follower's
	// file: the members differed, or the journal was cut).
	for (int i = 3; i < 2048; i++) {
		if (at_start[i])
			continue;
		errno = 0;
		if (write(i, "junk", 4) != -1 || errno != EBADF)
			check_fail(HERE, errno, "write to fd %d, which the program does not have", i);
		if (pwrite(i, "junk", 4, 0) != -1 || errno != EBADF)
			check_fail(HERE, errno, "pwrite to fd %d, which the program does not have", i);
		if (ftruncate(i, 0) != -1 || errno != EBADF)
			check_fail(HERE, errno, "ftruncate of fd %d, which the program does not have", i);
		if (fsync(i) != -1 || errno != EBADF)
			check_fail(HERE, errno, "fsync of fd %d, which the program does not have", i);
		if (futimens(i, NULL) != -1 || errno != EBADF)
			check_fail(HERE, errno, "futimens of fd %d, which the program does not have", i);
		if (fchmod(i, 0600) != -1 || errno != EBADF)
			check_fail(HERE, errno, "fchmod of fd %d, which the program does not have", i);
		if (dprintf(i, "junk") != -1 || errno != EBADF)
			check_fail(HERE, errno, "dprintf to fd %d, which the program does not have", i);
		if (syscall(SYS_write, i, "junk", 4) != -1 || errno != EBADF)
			check_fail(HERE, errno, "syscall(SYS_write) to fd %d, which the program does not have", i);
		void *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, i, 0);
		if (mapped != MAP_FAILED || errno != EBADF)
			check_fail(HERE, errno, "a shared mapping of fd %d, which the program does not have", i);
		// Made, it moved the kernel's cwd into a member, where the relative calls after it
		// reached that member alone.
		if (fchdir(i) != -1 || errno != EBADF)
			check_fail(HERE, errno, "fchdir to fd %d, which the program does not have", i);
	}
	close(fd);
	EXPECT_FILE(SHADOW "/d/f", "x");
	return 0;
}
