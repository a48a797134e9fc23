// write_copy_memory: the shim copies each write's bytes once, for both members (see
// racing_buffer.c), into a buffer each thread keeps for its next write. 32 threads writing
// 4 MiB each kept 4 MiB apiece: 139 MB of RSS where the program natively used 6. The large
// buffers kept by all threads together are bounded now; this checks the growth of RSS
// while the 32 threads are still alive (a kept buffer is freed when its thread ends).
// timeout: 120
#include "check.h"

#include <pthread.h>

#define THREADS 32
#define LEN (4 << 20)

static char *buf;
static pthread_barrier_t written, measured;

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	CHECK(f != NULL);
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	CHECK(kib > 0);
	return kib;
}

static void *writer(void *arg)
{
	char *path = xasprintf(SHADOW "/t%ld", (long)arg);
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (int i = 0; i < 3; i++)
		write_all(fd, buf, LEN);
	CHECK_SYS(close(fd));
	pthread_barrier_wait(&written);
	pthread_barrier_wait(&measured);
	free(path);
	return NULL;
}

int main(void)
{
	buf = malloc(LEN);
	CHECK(buf != NULL);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	long before = rss_kib();
	pthread_barrier_init(&written, NULL, THREADS + 1);
	pthread_barrier_init(&measured, NULL, THREADS + 1);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, writer, (void *)i) == 0);
	pthread_barrier_wait(&written);
	long grown = rss_kib() - before;
	pthread_barrier_wait(&measured);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	printf("RSS grew by %ld KiB while %d threads that wrote %d MiB each were alive\n", grown, THREADS, LEN >> 20);
	// 16 MiB of kept copies, a write-behind queue of 16 MiB, and the threads' stacks.
	CHECK(grown < 48 * 1024);
	for (long i = 0; i < THREADS; i++)
		CHECK_EQ(file_size(xasprintf(SHADOW "/t%ld", i)), 3LL * LEN);
	return 0;
}
