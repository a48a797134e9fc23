// config: write_behind = true
/* write_behind.c - write-behind (config write_behind): a write returns before the
 * secondary has it, and everything that must come after it on the secondary waits for
 * the queue: fsync, ftruncate, a truncate by path, a rename, fork, a child's _exit,
 * close and a dup2 over the file's last fd. run.sh's verify then finds the members identical, byte for byte.
 */
#include "check.h"
#include <sys/mman.h>

static off_t secondary_size(const char *vpath)
{
	struct stat st;
	/* An absolute path outside the prefix: the shim passes it through untouched (no wait). */
	CHECK_SYS(stat(member_path("secondary", vpath), &st));
	return st.st_size;
}

int main(void)
{
	char block[512];
	int fd, lagged = 0;

	memset(block, 'a', sizeof block);
	/* Right after the writes the secondary lags: the queue's thread gathers writes for up
	 * to 10 ms. Tried a few times: a test descheduled that long would see it caught up. */
	for (int attempt = 0; attempt < 5 && !lagged; attempt++) {
		fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		for (int i = 0; i < 128; i++)
			write_all(fd, block, sizeof block);
		lagged = secondary_size(SHADOW "/f") < 128 * 512;
		/* fsync returns once the secondary holds every byte. */
		CHECK_SYS(fsync(fd));
		CHECK_EQ(secondary_size(SHADOW "/f"), 128 * 512);
		CHECK_SYS(close(fd));
	}
	CHECK(lagged);

	/* Overlapping writes, then ftruncate and a write past the new end: the secondary gets
	 * them in the lead's order. */
	fd = CHECK_SYS(open(SHADOW "/g", O_RDWR | O_CREAT | O_TRUNC, 0644));
	memset(block, 'x', sizeof block);
	for (int i = 0; i < 16; i++)
		write_all(fd, block, sizeof block);
	memset(block, 'y', sizeof block);
	CHECK_EQ(pwrite(fd, block, 300, 100), 300);
	CHECK_SYS(ftruncate(fd, 1000));
	CHECK_EQ(pwrite(fd, "z", 1, 5000), 1);

	/* A truncate by path after queued writes: applied after them on the secondary. */
	int h = CHECK_SYS(open(SHADOW "/h", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (int i = 0; i < 16; i++)
		write_all(h, block, sizeof block);
	CHECK_SYS(truncate(SHADOW "/h", 10));
	CHECK_EQ(secondary_size(SHADOW "/h"), 10);
	/* Renamed with writes queued: they reach the file under its new name. */
	write_all(h, block, sizeof block);
	CHECK_SYS(rename(SHADOW "/h", SHADOW "/h2"));
	CHECK_SYS(close(h));

	/* fork with writes queued: the child starts with an empty queue of its own, writes a
	 * file of its own and leaves by _exit, which waits for its queue. */
	write_all(fd, block, sizeof block);
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int c = open(SHADOW "/child", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		for (int i = 0; i < 64 && c >= 0; i++)
			if (write(c, block, sizeof block) != sizeof block)
				_exit(2);
		_exit(c >= 0 ? 0 : 3);
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(secondary_size(SHADOW "/child"), 64 * 512);

	/* A shared writable mapping's msync after queued writes to the same file. */
	write_all(fd, block, sizeof block);
	char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	memcpy(map, "mapped", 6);
	CHECK_SYS(msync(map, 4096, MS_SYNC));
	CHECK_SYS(munmap(map, 4096));
	CHECK_SYS(close(fd));

	/* dup2 over the last fd of a file with queued writes settles it as close does: its
	 * follower gets the queued bytes first, then the lead's times (the queue's hold on
	 * the file hid that it was the last fd, and the times stayed apart). */
	for (int i = 0; i < 20; i++) {
		int a = CHECK_SYS(open(SHADOW "/dup2-over", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		int b = CHECK_SYS(open(SHADOW "/dup2-from", O_WRONLY | O_CREAT, 0644));
		static char big[64 << 10];
		for (int k = 0; k < 128; k++)
			write_all(a, big, sizeof big);
		CHECK_SYS(dup2(b, a));
		struct stat p = xstat(member_path("primary", SHADOW "/dup2-over"));
		struct stat q = xstat(member_path("secondary", SHADOW "/dup2-over"));
		CHECK_EQ(p.st_mtim.tv_nsec, q.st_mtim.tv_nsec);
		CHECK_SYS(close(a));
		CHECK_SYS(close(b));
	}
	return 0;
}
