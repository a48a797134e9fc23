// races: four processes on one set, without locking of their own. Each round one creates
// a file with O_CREAT|O_EXCL while the others open it O_RDWR as soon as it exists on the
// primary and write their own bytes; then all run `mkdir -p` on the same deep path and
// create a file in it. The follower may see another process's change after the lead does:
// the members must still be identical, with nothing reported.
// timeout: 240
#include "check.h"

#include <pthread.h>
#include <sys/mman.h>

#define PROCS 4
#define ROUNDS 2000

struct shared {
	pthread_barrier_t barrier;
};

static void mkdir_p(const char *path)
{
	char buf[256];
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			check_fail(HERE, errno, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		check_fail(HERE, errno, "mkdir %s", buf);
}

static void worker(struct shared *sh, int id)
{
	for (int r = 0; r < ROUNDS; r++) {
		char f[64], d[96], g[128];
		snprintf(f, sizeof f, SHADOW "/f%d", r);
		snprintf(d, sizeof d, SHADOW "/d%d/a/b/c", r % 200);
		snprintf(g, sizeof g, "%s/p%d-r%d", d, id, r);
		pthread_barrier_wait(&sh->barrier);
		int fd;
		if (id == r % PROCS) {
			fd = CHECK_SYS(open(f, O_RDWR | O_CREAT | O_EXCL, 0644));
		} else {
			while ((fd = open(f, O_RDWR)) < 0) {
				if (errno != ENOENT)
					check_fail(HERE, errno, "open %s", f);
			}
		}
		char byte = (char)('a' + id);
		CHECK_EQ(pwrite(fd, &byte, 1, id), 1);
		CHECK_SYS(close(fd));
		mkdir_p(d);
		write_file(g, "x");
		if (r % 200 == 199)
			CHECK_SYS(unlink(g));
	}
}

int main(void)
{
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	pthread_barrierattr_t a;
	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->barrier, &a, PROCS);
	pid_t pids[PROCS];
	for (int i = 0; i < PROCS; i++) {
		pids[i] = CHECK_SYS(fork());
		if (pids[i] == 0) {
			worker(sh, i);
			exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++)
		wait_ok(pids[i]);
	char *text = read_whole_file(SHADOW "/f0", NULL);
	CHECK_STREQ(text, "abcd");
	return 0;
}
