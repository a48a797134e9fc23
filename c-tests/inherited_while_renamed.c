// inherited_while_renamed: one thread creates, writes, closes and renames a file under the
// prefix in a loop while the main thread runs system("true") 200 times: each shell
// inherits the thread's fd (no O_CLOEXEC, as natively) now and then, and its shim adopts
// it while the thread renames the file. A name that stopped being the file's as the shim
// held it is looked for again by the name /proc shows now; before (helper-49, 6 runs in
// 10), the shell reported the file "inherited, its name now another file's" (00020) and
// ended with recover due, though nothing differed. run.sh fails the test on any report.
// timeout: 120
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;

static void *renamer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = CHECK_SYS(open(SHADOW "/w", O_CREAT | O_WRONLY | O_TRUNC, 0644));
		CHECK_EQ(write(fd, "x\n", 2), 2);
		CHECK_SYS(close(fd));
		CHECK_SYS(rename(SHADOW "/w", SHADOW "/r"));
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, renamer, NULL) == 0);
	for (int i = 0; i < 200; i++)
		CHECK_EQ(system("true"), 0);
	atomic_store(&stop, 1);
	CHECK(pthread_join(t, NULL) == 0);
	EXPECT_SAME_ON_MEMBERS(SHADOW "/r");
	return 0;
}
