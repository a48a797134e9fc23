// aio_write: POSIX AIO writes to a shadowed fd, aio_suspend, aio_error, aio_return.
#include "check.h"

#include "lib/aio_calls.h"

int main(void)
{
	const char *path = SHADOW "/aio";
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct aiocb a, b, c;

	aio_submit_write(&a, fd, "first-", 0);
	aio_submit_write(&b, fd, "second-", 6);
	aio_submit_write(&c, fd, "third\n", 13);
	CHECK_EQ(aio_complete(&a), 6);
	CHECK_EQ(aio_complete(&b), 7);
	CHECK_EQ(aio_complete(&c), 6);
	CHECK_SYS(aio_fsync(O_SYNC, &c));
	CHECK_EQ(aio_complete(&c), 0);

	/* lio_listio with LIO_WAIT. */
	struct aiocb d, e;
	d = (struct aiocb){ .aio_fildes = fd, .aio_buf = "lio-1\n", .aio_nbytes = 6,
			    .aio_offset = 19, .aio_lio_opcode = LIO_WRITE };
	e = (struct aiocb){ .aio_fildes = fd, .aio_buf = "lio-2\n", .aio_nbytes = 6,
			    .aio_offset = 25, .aio_lio_opcode = LIO_WRITE };
	struct aiocb *lio[2] = { &d, &e };
	CHECK_SYS(lio_listio(LIO_WAIT, lio, 2, NULL));
	CHECK_EQ(aio_return(&d), 6);
	CHECK_EQ(aio_return(&e), 6);

	CHECK_SYS(close(fd));
	EXPECT_FILE(path, "first-second-third\nlio-1\nlio-2\n");
	return 0;
}
