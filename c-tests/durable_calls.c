/* durable_calls.c - every call that makes a shadowed file's bytes durable makes the
 * secondary's durable too, as the file system tells it (lib/writeback.h: no extent left
 * awaiting writeback), with or without write-behind. The primary is on a tmpfs
 * (durable_calls.setup), so that no flush of the primary's file system reaches the
 * secondary's. Before 2026-12-04 fsync, fdatasync and sync_file_range through a
 * read-only fd, syncfs, and msync with MS_SYNC flushed the primary alone: a power failure
 * could take from the secondary what the program had made durable, with no intent left
 * to say so. (sync(2) and fsync through the writing fd flushed both already.) */
#define _GNU_SOURCE
#include "check.h"

#include "lib/aio_calls.h"
#include "lib/writeback.h"

#include <sys/mman.h>

enum how { FSYNC, FSYNC_READ_ONLY, FDATASYNC_READ_ONLY, RANGE_READ_ONLY, SYNCFS, SYNCFS_READ_ONLY, SYNC, AIO_FSYNC, HOW_COUNT };
static const char *const names[] = { "fsync", "fsync of a read-only fd", "fdatasync of a read-only fd",
				     "sync_file_range of a read-only fd", "syncfs", "syncfs of a read-only fd",
				     "sync", "aio_fsync" };

/* Whether all `size` bytes of the file at `path` are on its disk. */
static int durable(const char *path, off_t size)
{
	struct stat st;
	CHECK_SYS(stat(path, &st));
	return st.st_size == size && !awaits_writeback(path);
}

static void flush(enum how how, int fd, int ro)
{
	struct aiocb request;
	switch (how) {
	case FSYNC: CHECK_SYS(fsync(fd)); break;
	case FSYNC_READ_ONLY: CHECK_SYS(fsync(ro)); break;
	case FDATASYNC_READ_ONLY: CHECK_SYS(fdatasync(ro)); break;
	case RANGE_READ_ONLY:
		CHECK_SYS(sync_file_range(ro, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
		break;
	case SYNCFS: CHECK_SYS(syncfs(fd)); break;
	case SYNCFS_READ_ONLY: CHECK_SYS(syncfs(ro)); break;
	case SYNC: sync(); break;
	case AIO_FSYNC:
		memset(&request, 0, sizeof request);
		request.aio_fildes = fd;
		CHECK_SYS(aio_fsync(O_SYNC, &request));
		CHECK_EQ(aio_complete(&request), 0);
		break;
	case HOW_COUNT: break;
	}
}

int main(void)
{
	char block[4096];
	memset(block, 'd', sizeof block);
	for (int how = FSYNC; how < HOW_COUNT; how++) {
		int waited = 0;
		/* Right after the writes the secondary's bytes are not on its disk yet (in its
		 * page cache, or with write-behind still queued); tried again if the kernel wrote
		 * them back meanwhile (its flusher wakes every 5 s). A new file each time: ext4
		 * writes out a file emptied by O_TRUNC at its next close. */
		for (int attempt = 0; attempt < 5 && !waited; attempt++) {
			char *path = xasprintf(SHADOW "/f%d-%d", how, attempt);
			const char *secondary = member_path("secondary", path);
			int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
			int ro = CHECK_SYS(open(path, O_RDONLY));
			for (int i = 0; i < 16; i++)
				write_all(fd, block, sizeof block);
			waited = !durable(secondary, 16 * sizeof block);
			flush(how, fd, ro);
			if (!durable(secondary, 16 * sizeof block))
				check_fail(HERE, 0, "after %s the secondary's bytes are not all on its disk", names[how]);
			CHECK_SYS(close(ro));
			CHECK_SYS(close(fd));
			free(path);
		}
		if (!waited)
			check_fail(HERE, 0, "%s: the secondary's bytes were never seen short of its disk: nothing shown", names[how]);
	}

	/* A shared mapping's pages reach the secondary at msync; with MS_SYNC, durably. */
	int fd = CHECK_SYS(open(SHADOW "/mapped", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(fd, 16 * 4096));
	char *map = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	memset(map, 'm', 16 * 4096);
	CHECK_SYS(msync(map, 16 * 4096, MS_SYNC));
	if (!durable(member_path("secondary", SHADOW "/mapped"), 16 * 4096))
		check_fail(HERE, 0, "after msync(MS_SYNC) the secondary's bytes are not all on its disk");
	CHECK_SYS(munmap(map, 16 * 4096));
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(SHADOW "/mapped");
	return 0;
}
