// mmap_exit_ordered: a process writes a block through a shared mapping just after another
// process wrote the same block with pwrite, then leaves by _exit with the mapping in place
// (fio's mmap engine does: its jobs never unmap, and end by _exit). The lead holds the
// mapping's bytes, the last written; the secondary must too. Before, the copy _exit makes
// from the mapping did not wait for the other process's write to reach the secondary: with
// write-behind that write was still queued, landed after the copy, and the secondary kept
// the pwrite's bytes, unreported (found by fio, 2 runs in 5).
#include "check.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define BLOCK 4096
#define ROUNDS 16

int main(void)
{
	const char *path = SHADOW "/shared.dat";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	char buf[BLOCK];
	memset(buf, '.', sizeof buf);
	for (int b = 0; b < ROUNDS; b++)
		CHECK_SYS(pwrite(fd, buf, BLOCK, (off_t)b * BLOCK));
	CHECK_SYS(close(fd));

	for (int b = 0; b < ROUNDS; b++) {
		int go[2];
		CHECK_SYS(pipe(go));
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0) {
			int mfd = CHECK_SYS(open(path, O_RDWR));
			char *m = mmap(NULL, (size_t)ROUNDS * BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
			CHECK(m != MAP_FAILED);
			CHECK_SYS(close(mfd));
			char c;
			CHECK(read(go[0], &c, 1) == 1);
			memset(m + (size_t)b * BLOCK, 'm', BLOCK);
			_exit(0);
		}
		// Opened after the fork, as each fio job opens its file: the description is
		// this process's alone (write-behind queues its writes).
		fd = CHECK_SYS(open(path, O_RDWR));
		memset(buf, 'w', sizeof buf);
		CHECK_SYS(pwrite(fd, buf, BLOCK, (off_t)b * BLOCK));
		CHECK(write(go[1], "g", 1) == 1);
		wait_ok(pid);
		CHECK_SYS(close(fd));
		close(go[0]);
		close(go[1]);
	}

	char want[ROUNDS * BLOCK];
	memset(want, 'm', sizeof want);
	EXPECT_FILE_BYTES(member_path("primary", path), want, sizeof want);
	EXPECT_FILE_BYTES(member_path("secondary", path), want, sizeof want);
	return 0;
}
