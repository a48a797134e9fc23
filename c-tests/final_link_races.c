// final_link_races: a change through a final symlink — chmod, utime, truncate, an open for
// writing, a hard link made with AT_SYMLINK_FOLLOW — made while another process renames a
// new file onto the name the link leads to. Natively the change reaches one of the two files, whole; both members must reach the
// same one. Before, the name held was the link's alone: the lead's change could reach the
// old file and the follower's, made after the rename had reached both members, the new one
// (or fail ENOENT where the name was removed: tests/scripts/namespace_fuzz.py, four
// processes sharing a tree). Each round has names of its own, so a divergence in any round
// stays to be seen. Members compared by run.sh.
// timeout: 180
#include "check.h"
#include <utime.h>

#define WORKERS 2
#define ROUNDS 1500

static pthread_barrier_t *together;

static void worker(int id)
{
	char l[32], x[32], y[32];
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(l, sizeof l, "l-%d", i);
		snprintf(x, sizeof x, "x-%d", i);
		snprintf(y, sizeof y, "y-%d", i);
		if (id == 0) {
			write_file(x, "old file\n");
			CHECK_SYS(symlink(x, l));
		} else {
			write_file(y, "new file\n");
		}
		pthread_barrier_wait(together);
		if (id == 1) {
			CHECK_SYS(rename(y, x));
			continue;
		}
		switch (i % 5) {
		case 0:
			CHECK_SYS(chmod(l, 0640));
			break;
		case 1: {
			struct utimbuf t = { 1000000 + i, 1000000 + i };
			CHECK_SYS(utime(l, &t));
			break;
		}
		case 2:
			CHECK_SYS(truncate(l, 3));
			break;
		case 3: {
			char n[32];
			snprintf(n, sizeof n, "n-%d", i);
			/* The kernel may find the file the rename is unlinking: ENOENT, natively too. */
			if (linkat(AT_FDCWD, l, AT_FDCWD, n, AT_SYMLINK_FOLLOW) < 0)
				CHECK(errno == ENOENT);
			break;
		}
		default: {
			int fd = CHECK_SYS(open(l, O_WRONLY | O_APPEND));
			write_str(fd, "appended\n");
			CHECK_SYS(close(fd));
		}
		}
	}
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	run_workers(WORKERS, worker, &together);
	return 0;
}
