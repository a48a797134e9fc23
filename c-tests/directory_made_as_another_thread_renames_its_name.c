// directory_made_as_another_thread_renames_its_name: each round, four threads start
// together: two make directory T, one renames T to E, one creates T/f. The rename moves a
// directory only when a mkdir came first; whether it does is looked at with the names held,
// so a directory made at T just before is renamed as a directory's rename is (ordered
// against every name operation under way) and T/f lands in the same directory on both
// members. Before, the look came before the names: a directory made in between was renamed
// unordered, and the file sat in E on one member and in a new T on the other, mostly
// unreported (helper-52, Node's thread pool making and renaming directories).
#include "check.h"

#include <pthread.h>

enum { ROUNDS = 1500, THREADS = 4 };

static pthread_barrier_t go, done;
static char t_name[256], e_name[256], f_name[256];

static void *racer(void *arg)
{
	long which = (long)arg;
	for (int r = 0; r < ROUNDS; r++) {
		pthread_barrier_wait(&go);
		switch (which) {
		case 0:
		case 3:
			(void)!mkdir(t_name, 0755);
			break;
		case 1:
			(void)!rename(t_name, e_name);
			break;
		case 2: {
			int fd = open(f_name, O_WRONLY | O_CREAT, 0644);
			if (fd >= 0)
				CHECK_SYS(close(fd));
		} break;
		}
		pthread_barrier_wait(&done);
	}
	return NULL;
}

int main(void)
{
	CHECK(pthread_barrier_init(&go, NULL, THREADS + 1) == 0);
	CHECK(pthread_barrier_init(&done, NULL, THREADS + 1) == 0);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, racer, (void *)i) == 0);
	for (int r = 0; r < ROUNDS; r++) {
		snprintf(t_name, sizeof t_name, SHADOW "/T%d", r);
		snprintf(e_name, sizeof e_name, SHADOW "/E%d", r);
		snprintf(f_name, sizeof f_name, SHADOW "/T%d/f", r);
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
	}
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	return 0;
}
