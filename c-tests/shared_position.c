// shared_position: a file description that another process or thread moves while this one
// writes at its position. A write learns where it landed from the position after it; reads
// are not hooked, and an lseek of a description that is not followed took no lock, so a
// read or a seek between the lead's write and that look sent the follower's bytes
// elsewhere: the members differed, unreported. Now the write notes the position before it
// too and, when something moved it, finds its bytes on the lead; seeks of writable files
// wait for writes. The O_APPEND flag of a shared description is asked of the kernel: another
// process may have changed it.
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

	// Two processes seek and write one description, write-only or readable.
	for (int rw = 0; rw < 2; rw++) {
		const char *path = rw ? SHADOW "/seekers-rw" : SHADOW "/seekers";
		fd = filled(path, rw ? O_RDWR : O_WRONLY);
		pid = CHECK_SYS(fork());
		for (int i = 0; i < WRITES; i++) {
			CHECK_SYS(lseek(fd, (i * 7919 + (pid == 0) * 13) % 290000, SEEK_SET));
			CHECK_EQ(write(fd, pid == 0 ? "child" : "PAREN", 5), 5);
		}
		if (pid == 0)
			_exit(0);
		wait_ok(pid);
		CHECK_SYS(close(fd));
		EXPECT_SAME_ON_MEMBERS(path);
	}

	// Empty writes while a thread reads: 0, as natively.
	fd = filled(SHADOW "/empty", O_RDWR);
	CHECK(pthread_create(&t, NULL, read_along, &fd) == 0);
	for (int i = 0; i < WRITES; i++)
		CHECK_EQ(write(fd, "", 0), 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(close(fd));

	// Another process sharing the description sets O_APPEND, then clears it: this one's
	// pwrite and write land where the kernel puts them on both members.
	for (int append = 1; append >= 0; append--) {
		const char *path = append ? SHADOW "/set-append" : SHADOW "/cleared-append";
		fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC | (append ? 0 : O_APPEND), 0644));
		write_str(fd, "0123456789");
		pid = CHECK_SYS(fork());
		if (pid == 0) {
			int fl = fcntl(fd, F_GETFL);
			_exit(fcntl(fd, F_SETFL, append ? fl | O_APPEND : fl & ~O_APPEND) == 0 ? 0 : 1);
		}
		wait_ok(pid);
		CHECK_EQ(pwrite(fd, "XY", 2, 0), 2);
		CHECK_SYS(lseek(fd, 4, SEEK_SET));
		CHECK_EQ(write(fd, "AB", 2), 2);
		CHECK_SYS(close(fd));
		EXPECT_FILE(path, append ? "0123456789XYAB" : "XY23AB6789");
		EXPECT_SAME_ON_MEMBERS(path);
	}
	return 0;
}
