// dir_twin_races: a directory open makes a follower twin; process B renames d away and
// makes a new d while A opens d and creates f through its fd (openat). A's lead fd and its
// twin must name the same directory (the open holds d's name: names.rs), so f lands in the
// same place on both members (before, in e on one and d on the other). Every other round
// opens d read-only without O_DIRECTORY (as `open(".", O_RDONLY)` for fchdir, Python's
// `os.open(d, os.O_RDONLY)` for a directory fsync): such an open does not know it opens a
// directory until it has (before, its twin was opened by a name no longer its own).
// timeout: 120
#include "check.h"
#include <sys/mman.h>

static volatile int *ready;
static void meet(int i, int who)
{
	__atomic_store_n(&ready[who], i + 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&ready[1 - who], __ATOMIC_SEQ_CST) < i + 1)
		;
}

#define ROUNDS 3000

int main(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		char *d = xasprintf(SHADOW "/d%d", i);
		CHECK_SYS(mkdir(d, 0755));
	}
	ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t b = CHECK_SYS(fork());
	if (b == 0) {
		for (int i = 0; i < ROUNDS; i++) {
			char *d = xasprintf(SHADOW "/d%d", i), *e = xasprintf(SHADOW "/e%d", i);
			meet(i, 1);
			for (volatile int k = 0; k < (i % 16) * 500; k++)
				;
			if (rename(d, e) == 0)
				mkdir(d, 0755);
		}
		_exit(0);
	}
	for (int i = 0; i < ROUNDS; i++) {
		char *d = xasprintf(SHADOW "/d%d", i);
		meet(i, 0);
		int dfd = open(d, O_RDONLY | (i % 2 ? 0 : O_DIRECTORY));
		if (dfd < 0)
			continue;
		int f = openat(dfd, "f", O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (f >= 0)
			close(f);
		close(dfd);
	}
	waitpid(b, NULL, 0);
	return 0;
}
