// aio_fsync: a program queues POSIX AIO writes, then aio_fsync, waits for the fsync and
// only then takes the writes' results. glibc's AIO thread flushed the primary's file
// alone, and the shim copied an AIO write's bytes to the secondary when the program took
// its result (aio_return): when the fsync was done, the secondary had neither the bytes
// nor the flush. Now aio_fsync waits for the writes queued before it, copies them, and
// flushes both members' files before the request is made.
#include "check.h"

#include <aio.h>

static void submit(struct aiocb *cb, int fd, const char *data, off_t off)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = (void *)data;
	cb->aio_nbytes = strlen(data);
	cb->aio_offset = off;
	CHECK_SYS(aio_write(cb));
}

static void wait_for(struct aiocb *cb)
{
	const struct aiocb *list[1] = { cb };
	while (aio_error(cb) == EINPROGRESS)
		CHECK(aio_suspend(list, 1, NULL) == 0 || errno == EINTR);
	CHECK_EQ(aio_error(cb), 0);
}

int main(void)
{
	const char *path = SHADOW "/aio";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct aiocb a, b, sync;

	submit(&a, fd, "first-", 0);
	submit(&b, fd, "second\n", 6);
	memset(&sync, 0, sizeof sync);
	sync.aio_fildes = fd;
	CHECK_SYS(aio_fsync(O_SYNC, &sync));
	wait_for(&sync);
	CHECK_EQ(aio_return(&sync), 0);
	/* Made durable on both members, before the writes' results are taken. */
	EXPECT_FILE(member_path("secondary", path), "first-second\n");

	wait_for(&a);
	wait_for(&b);
	CHECK_EQ(aio_return(&a), 6);
	CHECK_EQ(aio_return(&b), 7);

	/* O_DSYNC, with a write of another fd queued meanwhile: that one is left alone. */
	int other = CHECK_SYS(open(SHADOW "/other", O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct aiocb c, d;
	submit(&c, fd, "third\n", 13);
	submit(&d, other, "elsewhere\n", 0);
	memset(&sync, 0, sizeof sync);
	sync.aio_fildes = fd;
	CHECK_SYS(aio_fsync(O_DSYNC, &sync));
	wait_for(&sync);
	CHECK_EQ(aio_return(&sync), 0);
	EXPECT_FILE(member_path("secondary", path), "first-second\nthird\n");
	wait_for(&c);
	wait_for(&d);
	CHECK_EQ(aio_return(&c), 6);
	CHECK_EQ(aio_return(&d), 10);

	CHECK_SYS(close(other));
	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "first-second\nthird\n");
	EXPECT_FILE(SHADOW "/other", "elsewhere\n");
	return 0;
}
