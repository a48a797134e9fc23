// flush_beside: fsync, fdatasync and sync_file_range flush the secondary on the shim's
// flushing thread while the calling thread flushes the primary. A single-threaded process
// that flushes now and then gets no thread (it would tax every later syscall), also after
// the shim's own threads made glibc count it as threaded; one that flushes often does,
// and loses it after a second without flushes; a process that has threads of its own gets
// it at its first flush. The thread starts again in a fork child
// (whose first flush must not wait for the parent's thread), and both members get every
// byte (run.sh compares them).
#include "check.h"
#include <dirent.h>
#include <pthread.h>

/* Whether this process has a thread named `name`. */
static int has_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int found = 0;

	CHECK(d != NULL);
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *comm = xasprintf("/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(comm, "r");
		char buf[64] = {0};
		if (f != NULL) {
			if (fgets(buf, sizeof buf, f) != NULL)
				buf[strcspn(buf, "\n")] = 0;
			fclose(f);
		}
		found = strcmp(buf, name) == 0;
	}
	closedir(d);
	return found;
}

static void write_and_flush(const char *path, const char *text)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_APPEND, 0644));
	write_str(fd, text);
	CHECK_SYS(fsync(fd));
	write_str(fd, text);
	CHECK_SYS(fdatasync(fd));
	write_str(fd, text);
	CHECK_SYS(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	CHECK_SYS(close(fd));
}

static void *sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* One write and one fdatasync of `path`. */
static void flush_once(const char *path, const char *text)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_APPEND, 0644));
	write_str(fd, text);
	CHECK_SYS(fdatasync(fd));
	CHECK_SYS(close(fd));
}

int main(void)
{
	int status;
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		/* With a thread of the program's own, the first flush starts it. */
		pthread_t t;
		CHECK(pthread_create(&t, NULL, sleeper, NULL) == 0);
		flush_once(SHADOW "/threaded", "t");
		CHECK(has_thread("libshadow-sync"));
		EXPECT_FILE(member_path("secondary", SHADOW "/threaded"), "t");
		_exit(0);
	}
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Single-threaded (under write-behind, but for the shim's own queue thread), one
	 * flush now and then: no thread. */
	flush_once(SHADOW "/once", "once");
	CHECK(!has_thread("libshadow-sync"));
	EXPECT_FILE(member_path("secondary", SHADOW "/once"), "once");

	write_and_flush(SHADOW "/parent", "p");
	CHECK(has_thread("libshadow-sync"));
	EXPECT_FILE(member_path("secondary", SHADOW "/parent"), "ppp");

	pid = CHECK_SYS(fork());
	if (pid == 0) {
		/* The parent's thread is not in the child: a flush starts the child's own. */
		CHECK(!has_thread("libshadow-sync"));
		write_and_flush(SHADOW "/child", "c");
		CHECK(has_thread("libshadow-sync"));
		EXPECT_FILE(member_path("secondary", SHADOW "/child"), "ccc");
		_exit(0);
	}
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	write_and_flush(SHADOW "/parent", "q");
	EXPECT_FILE(member_path("secondary", SHADOW "/parent"), "pppqqq");

	/* Idle for over a second: the thread is gone. */
	usleep(1500 * 1000);
	CHECK(!has_thread("libshadow-sync"));

	/* The shim's own thread made the process multi-threaded for glibc: a flush now and
	 * then still starts no thread. */
	flush_once(SHADOW "/once", " more");
	CHECK(!has_thread("libshadow-sync"));
	EXPECT_FILE(member_path("secondary", SHADOW "/once"), "once more");
	return 0;
}
