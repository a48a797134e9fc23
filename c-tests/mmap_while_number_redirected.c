// mmap_while_number_redirected: one thread maps a number shared and writable, stores into
// the pages, syncs and unmaps them, in a loop, while the main thread keeps putting one of
// two files under the prefix at that number with dup2. The pages, the shim's handle on
// their file and the open it records them under are one file's: each file's stores reach
// its own follower. Before (helper-51), a mapping made as the number changed was recorded
// under the other file's open, and its pages were copied to that file's follower.
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NUMBER = 70, ROUNDS = 20000, SIZE = 4096 };

static atomic_int stop, mapped;

static void *mapper(void *arg)
{
	(void)arg;
	for (unsigned k = 0; !atomic_load(&stop); k++) {
		char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, NUMBER, 0);
		CHECK(p != MAP_FAILED);
		p[k % SIZE] = (char)('a' + k % 26);
		CHECK_SYS(msync(p, SIZE, MS_SYNC));
		CHECK_SYS(munmap(p, SIZE));
		atomic_fetch_add(&mapped, 1);
	}
	return NULL;
}

int main(void)
{
	int files[2];
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf(SHADOW "/f%d", i);
		files[i] = CHECK_SYS(open(path, O_CREAT | O_RDWR, 0644));
		CHECK_SYS(ftruncate(files[i], SIZE));
		free(path);
	}
	CHECK_SYS(dup2(files[0], NUMBER));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, mapper, NULL) == 0);
	/* dup2s as fast as they come, while the mapper goes on mapping. */
	for (int i = 1; i < ROUNDS || atomic_load(&mapped) < 500; i++)
		CHECK_SYS(dup2(files[i % 2], NUMBER));
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(NUMBER));
	CHECK_SYS(close(files[0]));
	CHECK_SYS(close(files[1]));
	return 0;
}
