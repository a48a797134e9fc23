// threads_append: 8 threads append fixed-size records, sharing one O_APPEND fd,
// then each with its own O_APPEND open.  No record may be lost or torn.
#include "check.h"

#include <pthread.h>

#define THREADS 8
#define RECORDS 500
#define RECLEN 64

struct job {
	int id;
	int fd;			/* shared fd, or -1: open our own */
	const char *path;
};

static void *writer(void *arg)
{
	struct job *j = arg;
	int fd = j->fd >= 0 ? j->fd : CHECK_SYS(open(j->path, O_WRONLY | O_APPEND));
	char rec[RECLEN + 1];

	for (int r = 0; r < RECORDS; r++) {
		/* "T3 R00042 " + filler + '\n', exactly RECLEN bytes. */
		int n = snprintf(rec, sizeof rec, "T%d R%05d ", j->id, r);
		memset(rec + n, 'a' + j->id, RECLEN - 1 - n);
		rec[RECLEN - 1] = '\n';
		CHECK_EQ(write(fd, rec, RECLEN), RECLEN);
	}
	if (j->fd < 0)
		CHECK_SYS(close(fd));
	return NULL;
}

static void check_records(const char *path)
{
	size_t len;
	char *buf = read_whole_file(path, &len);
	int next[THREADS] = {0};

	CHECK_EQ(len, (size_t)THREADS * RECORDS * RECLEN);
	for (size_t off = 0; off < len; off += RECLEN) {
		char *rec = buf + off;
		int id, r, n;

		if (sscanf(rec, "T%d R%5d %n", &id, &r, &n) != 2 || id < 0 || id >= THREADS)
			check_fail(HERE, 0, "%s: bad record at offset %zu: %.64s", path, off, rec);
		for (int i = n; i < RECLEN - 1; i++)
			if (rec[i] != 'a' + id)
				check_fail(HERE, 0, "%s: torn record at offset %zu: %.64s", path, off, rec);
		if (rec[RECLEN - 1] != '\n')
			check_fail(HERE, 0, "%s: torn record at offset %zu", path, off);
		/* Each thread's records appear in its own order. */
		if (r != next[id])
			check_fail(HERE, 0, "%s: thread %d record %d at offset %zu, want %d",
				   path, id, r, off, next[id]);
		next[id]++;
	}
	free(buf);
}

static void run(const char *path, int shared)
{
	pthread_t th[THREADS];
	struct job jobs[THREADS];
	int fd = -1;

	write_file(path, "");
	if (shared)
		fd = CHECK_SYS(open(path, O_WRONLY | O_APPEND));
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct job){ .id = i, .fd = fd, .path = path };
		CHECK_EQ(pthread_create(&th[i], NULL, writer, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	if (shared)
		CHECK_SYS(close(fd));
	check_records(path);
}

int main(void)
{
	run(SHADOW "/shared-fd.log", 1);
	run(SHADOW "/own-fds.log", 0);
	return 0;
}
