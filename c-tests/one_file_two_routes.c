// one_file_two_routes: two processes change the same file's metadata at once, each by
// its own route — one by name, the other through a hard link's name or through a
// writable fd (which has a follower fd and no name) — chmod, chown's group, an extended
// attribute, times. Natively the file ends as the later call left it; both members must
// end the same way. The names' locks do not order two names of one file, nor an fd: each
// change is ordered by the file itself (its word, as writes are). Each round has a file
// of its own, so a divergence in any round stays to be seen. Members compared by run.sh.
// timeout: 180
#include "check.h"
#include <sys/xattr.h>

#define WORKERS 2
#define ROUNDS 3000

static pthread_barrier_t *together;
static int *started;

/* What worker `id` does to round i's file: the same kind of change as the other worker,
 * with its own value, by name (`path`) or through `fd`. */
static void change(int id, int i, const char *path, int fd)
{
	mode_t mode = id == 0 ? 0640 : 0604;
	char value[16];
	snprintf(value, sizeof value, "worker %d", id);
	switch (i % 4) {
	case 0:
		CHECK_SYS(fd < 0 ? chmod(path, mode) : fchmod(fd, mode));
		break;
	case 1:
		CHECK_SYS(fd < 0 ? chown(path, -1, 100 + id) : fchown(fd, -1, 100 + id));
		break;
	case 2:
		CHECK_SYS(fd < 0 ? setxattr(path, "user.who", value, strlen(value), 0) : fsetxattr(fd, "user.who", value, strlen(value), 0));
		break;
	default: {
		struct timespec t[2] = { { 1000000 + id, 0 }, { 2000000 + id, 0 } };
		CHECK_SYS(fd < 0 ? utimensat(AT_FDCWD, path, t, 0) : futimens(fd, t));
	}
	}
}

static void worker(int id)
{
	char a[32], b[32];
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(a, sizeof a, "a-%d", i);
		snprintf(b, sizeof b, "b-%d", i);
		int by_fd = (i / 4) % 2;
		int fd = -1;
		if (id == 0) {
			write_file(a, "file\n");
			CHECK_SYS(link(a, b));
		}
		pthread_barrier_wait(together);
		if (id == 1 && by_fd)
			fd = CHECK_SYS(open(a, O_WRONLY));
		pthread_barrier_wait(together);
		/* Let go together, spinning (a barrier's wake-up lets one start well before the
		 * other): the two changes overlap far more often. */
		__atomic_add_fetch(started, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(started, __ATOMIC_SEQ_CST) < (i + 1) * WORKERS)
			;
		change(id, i, id == 0 ? a : b, fd);
		if (fd >= 0)
			CHECK_SYS(close(fd));
	}
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	started = mmap(NULL, sizeof *started, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(started != MAP_FAILED);
	run_workers(WORKERS, worker, &together);
	return 0;
}
