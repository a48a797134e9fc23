// aio_fsync: a program queues POSIX AIO writes, then aio_fsync, waits for the fsync and
// only then takes the writes' results. glibc's AIO thread flushed the primary's file
// alone, and the shim copied an AIO write's bytes to the secondary when the program took
// its result (aio_return): when the fsync was done, the secondary had neither the bytes
// nor the flush. Now aio_fsync waits for the writes queued before it, copies them, and
// flushes both members' files before the request is made.
#include "check.h"

#include "lib/aio_calls.h"

/* aio_fsync of `fd`, waited for. */
static void synced(int fd, int op)
{
	struct aiocb sync;
	memset(&sync, 0, sizeof sync);
	sync.aio_fildes = fd;
	CHECK_SYS(aio_fsync(op, &sync));
	CHECK_EQ(aio_complete(&sync), 0);
}

int main(void)
{
	const char *path = SHADOW "/aio";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct aiocb a, b;

	aio_submit_write(&a, fd, "first-", 0);
	aio_submit_write(&b, fd, "second\n", 6);
	synced(fd, O_SYNC);
	/* Made durable on both members, before the writes' results are taken. */
	EXPECT_FILE(member_path("secondary", path), "first-second\n");

	CHECK_EQ(aio_complete(&a), 6);
	CHECK_EQ(aio_complete(&b), 7);

	/* O_DSYNC, with a write of another fd queued meanwhile: that one is left alone. */
	int other = CHECK_SYS(open(SHADOW "/other", O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct aiocb c, d;
	aio_submit_write(&c, fd, "third\n", 13);
	aio_submit_write(&d, other, "elsewhere\n", 0);
	synced(fd, O_DSYNC);
	EXPECT_FILE(member_path("secondary", path), "first-second\nthird\n");
	CHECK_EQ(aio_complete(&c), 6);
	CHECK_EQ(aio_complete(&d), 10);

	CHECK_SYS(close(other));
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "first-second\nthird\n");
	EXPECT_FILE(SHADOW "/other", "elsewhere\n");
	return 0;
}
