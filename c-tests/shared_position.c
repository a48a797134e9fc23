// shared_position: a file description that another process or thread moves while this one
// writes at its position. A write learns where it landed from the position after it; reads
// are not hooked, and an lseek of a description that is not followed took no lock, so a
// read or a seek between the lead's write and that look sent the follower's bytes
// elsewhere: the members differed, unreported. Now the write notes the position before it
// too and, when something moved it, finds its bytes on the lead; seeks wait for writes.
// timeout: 120
#include "check.h"

#include <pthread.h>

#define WRITES 20000

static void write_records(int fd)
{
	char rec[8];
	for (int i = 0; i < WRITES; i++) {
		int len = snprintf(rec, sizeof rec, "W%04d", i % 10000);
		CHECK_EQ(write(fd, rec, len), (ssize_t)len);
	}
}

static void *read_along(void *arg)
{
	int fd = *(int *)arg;
	char buf[7];
	for (int i = 0; i < WRITES; i++)
		if (read(fd, buf, sizeof buf) < 0)
			CHECK(0);
	return NULL;
}

static int filled(const char *path, int flags)
{
	int fd = CHECK_SYS(open(path, flags | O_CREAT | O_TRUNC, 0644));
	static char dots[300000];
	memset(dots, '.', sizeof dots);
	write_all(fd, dots, sizeof dots);
	CHECK_SYS(lseek(fd, 0, SEEK_SET));
	return fd;
}

int main(void)
{
	// A child reads through the parent's O_RDWR description while the parent writes.
	int fd = filled(SHADOW "/by-process", O_RDWR);
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		read_along(&fd);
		_exit(0);
	}
	write_records(fd);
	wait_ok(pid);
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(SHADOW "/by-process");

	// A thread reads while another writes.
	fd = filled(SHADOW "/by-thread", O_RDWR);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, read_along, &fd) == 0);
	write_records(fd);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(SHADOW "/by-thread");

	// Two processes seek and write one write-only description.
	fd = filled(SHADOW "/seekers", O_WRONLY);
	pid = CHECK_SYS(fork());
	for (int i = 0; i < WRITES; i++) {
		CHECK_SYS(lseek(fd, (i * 7919 + (pid == 0) * 13) % 290000, SEEK_SET));
		CHECK_EQ(write(fd, pid == 0 ? "child" : "PAREN", 5), 5);
	}
	if (pid == 0)
		_exit(0);
	wait_ok(pid);
	CHECK_SYS(close(fd));
	EXPECT_SAME_ON_MEMBERS(SHADOW "/seekers");
	return 0;
}
