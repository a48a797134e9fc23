/* aio_calls.h - POSIX AIO writes and waits, for the AIO tests (aio_write.c, aio_fsync.c). */
#ifndef LIBSHADOW_AIO_CALLS_H
#define LIBSHADOW_AIO_CALLS_H

#include "../check.h"

#include <aio.h>

/* Queues a write of `data` at `off` on `fd`. */
static inline void aio_submit_write(struct aiocb *cb, int fd, const char *data, off_t off)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = (void *)data;
	cb->aio_nbytes = strlen(data);
	cb->aio_offset = off;
	CHECK_SYS(aio_write(cb));
}

/* Waits for cb's request to finish without error; its result is left to aio_return. */
static inline void aio_wait(struct aiocb *cb)
{
	const struct aiocb *list[1] = { cb };
	while (aio_error(cb) == EINPROGRESS)
		CHECK(aio_suspend(list, 1, NULL) == 0 || errno == EINTR);
	CHECK_EQ(aio_error(cb), 0);
}

/* Waits for cb's request and returns aio_return(). */
static inline ssize_t aio_complete(struct aiocb *cb)
{
	aio_wait(cb);
	return aio_return(cb);
}

#endif
