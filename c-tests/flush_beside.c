// flush_beside: fsync, fdatasync and sync_file_range flush the secondary on the shim's
// flushing thread while the calling thread flushes the primary. The thread must exist after
// a flush, start again in a fork child (whose first flush must not wait for the parent's
// thread), and leave both members with every byte (run.sh compares them).
#include "check.h"
#include <dirent.h>

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

int main(void)
{
	CHECK(!has_thread("libshadow-sync"));
	write_and_flush(SHADOW "/parent", "p");
	CHECK(has_thread("libshadow-sync"));
	EXPECT_FILE(member_path("secondary", SHADOW "/parent"), "ppp");

	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		/* The parent's thread is not in the child: a flush starts the child's own. */
		CHECK(!has_thread("libshadow-sync"));
		write_and_flush(SHADOW "/child", "c");
		CHECK(has_thread("libshadow-sync"));
		EXPECT_FILE(member_path("secondary", SHADOW "/child"), "ccc");
		_exit(0);
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	write_and_flush(SHADOW "/parent", "q");
	EXPECT_FILE(member_path("secondary", SHADOW "/parent"), "pppqqq");
	return 0;
}
