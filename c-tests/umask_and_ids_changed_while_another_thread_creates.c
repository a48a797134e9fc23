// umask_and_ids_changed_while_another_thread_creates: one thread keeps changing what the
// kernel gives a new entry (the umask between 022 and 077; as root, the effective group
// too) while the main thread makes directories, files and FIFOs under the prefix. Each
// entry gets one mode and one group on both members: those calls wait until no hook of
// the process is in flight, so none comes between a create's lead part and its follower
// part. Before, the follower's entry got the mask or group of its own moment (helper-52:
// Node's process.umask(), which reads the mask by setting it twice, while its thread pool
// made directories), unreported.
// timeout: 60
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { ENTRIES = 400 };

static atomic_int stop;
static int as_root;

static void *changer(void *arg)
{
	(void)arg;
	for (int n = 0; !atomic_load(&stop); n++) {
		umask(n % 2 ? 022 : 077);
		if (as_root)
			CHECK_SYS(setegid(n % 4 < 2 ? 0 : 1234));
		usleep(20);
	}
	return NULL;
}

int main(void)
{
	as_root = geteuid() == 0;
	if (!as_root)
		fprintf(stderr, "umask_and_ids_changed_while_another_thread_creates: not root: the umask only, not the group\n");
	pthread_t t;
	CHECK(pthread_create(&t, NULL, changer, NULL) == 0);
	for (int i = 0; i < ENTRIES; i++) {
		char *d = xasprintf(SHADOW "/d%d", i), *f = xasprintf(SHADOW "/f%d", i), *p = xasprintf(SHADOW "/p%d", i);
		CHECK_SYS(mkdir(d, 0777));
		CHECK_SYS(close(CHECK_SYS(open(f, O_CREAT | O_WRONLY | O_EXCL, 0666))));
		if (i % 10 == 0)
			CHECK_SYS(mkfifo(p, 0666));
		free(d), free(f), free(p);
	}
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	if (as_root)
		CHECK_SYS(setegid(0));
	return 0;
}
