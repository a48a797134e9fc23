// config: write_behind = true
/* sync_calls.c - sync(2), syncfs(2), and fsync/fdatasync through a read-only fd, with
 * write-behind: each returns once the secondary holds what the program wrote before it,
 * as fsync through the writing fd does. Before, none of them waited for the queue, and
 * syncfs and a read-only fd's flushes reached the primary's file system alone: what the
 * program had made durable was not, on the secondary. run.sh's verify then compares the
 * members. */
#define _GNU_SOURCE
#include "check.h"

static off_t secondary_size(const char *vpath)
{
	struct stat st;
	/* A path outside the prefix: passed through untouched (no wait for the queue). */
	CHECK_SYS(stat(member_path("secondary", vpath), &st));
	return st.st_size;
}

enum how { SYNC, SYNCFS, FSYNC_READ_ONLY, FDATASYNC_READ_ONLY, SYNCFS_READ_ONLY };
static const char *const names[] = { "sync", "syncfs", "fsync of a read-only fd",
				     "fdatasync of a read-only fd", "syncfs of a read-only fd" };

int main(void)
{
	char block[512];
	memset(block, 'a', sizeof block);
	for (int how = SYNC; how <= SYNCFS_READ_ONLY; how++) {
		int lagged = 0;
		/* Right after the writes the secondary lags (the queue's thread gathers writes
		 * for up to 10 ms); tried a few times, as a test descheduled that long sees it
		 * caught up. */
		for (int attempt = 0; attempt < 5 && !lagged; attempt++) {
			int fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
			int ro = CHECK_SYS(open(SHADOW "/f", O_RDONLY));
			for (int i = 0; i < 128; i++)
				write_all(fd, block, sizeof block);
			lagged = secondary_size(SHADOW "/f") < 128 * 512;
			switch (how) {
			case SYNC: sync(); break;
			case SYNCFS: CHECK_SYS(syncfs(fd)); break;
			case FSYNC_READ_ONLY: CHECK_SYS(fsync(ro)); break;
			case FDATASYNC_READ_ONLY: CHECK_SYS(fdatasync(ro)); break;
			case SYNCFS_READ_ONLY: CHECK_SYS(syncfs(ro)); break;
			}
			if (secondary_size(SHADOW "/f") != 128 * 512)
				check_fail(HERE, 0, "%s returned before the secondary held the writes", names[how]);
			CHECK_SYS(close(ro));
			CHECK_SYS(close(fd));
		}
		if (!lagged)
			check_fail(HERE, 0, "%s: the secondary never lagged (the queue did not hold the writes)", names[how]);
	}
	return 0;
}
