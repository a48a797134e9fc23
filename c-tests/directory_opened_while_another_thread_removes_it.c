// directory_opened_while_another_thread_removes_it: one thread opens a directory read-only
// and closes it, again and again (a listing: Java's Files.list and newDirectoryStream open
// so), while another removes the directory and makes it again. A directory removed between
// the lead's open and the shim's look at its name has nothing left to keep alike: nothing
// is reported. Before, the look used the directory's stat from before the removal and took
// it for one renamed again and again (00020, recover due, members identical; helper-53,
// 36 to 255 reports in 3 s).
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { OPENS = 20000 };

static atomic_int stop;

static void *remover(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		(void)!rmdir(SHADOW "/d");
		(void)!mkdir(SHADOW "/d", 0755);
	}
	return NULL;
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, remover, NULL) == 0);
	int opened = 0;
	for (int i = 0; i < OPENS; i++) {
		int fd = open(SHADOW "/d", O_RDONLY);
		if (fd >= 0) {
			opened++;
			CHECK_SYS(close(fd));
		} else {
			CHECK(errno == ENOENT);
		}
	}
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(opened > 0);
	return 0;
}
