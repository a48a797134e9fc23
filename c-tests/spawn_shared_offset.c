// spawn_shared_offset: a child started by posix_spawn, system(), popen(), _Fork() (no
// atfork handlers) or a raw fork or clone system call inherits a shadowed fd and writes
// through it while the parent writes through its own copy: one file position, two
// processes. Each write must land at the same offset on both members (the parent's writes
// are ordered against the child's, as after fork).
// timeout: 120
#include "check.h"

#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

#define LINES 3000

static const char *child_script = "i=0; while [ $i -lt 3000 ]; do echo child-line-$i >&3; i=$((i+1)); done";

static void parent_writes(int fd)
{
	for (int i = 0; i < LINES; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "parent-line-%d\n", i);
		CHECK_EQ(write(fd, line, n), n);
	}
}

static int open_as_3(const char *path)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	if (fd != 3) {
		CHECK_SYS(dup2(fd, 3));
		CHECK_SYS(close(fd));
	}
	return 3;
}

/* The child (by _Fork, raw fork, raw clone: `how` 0, 1, 2) writes its lines while the
 * parent writes its own. */
static void child_writes_beside_parent(int how)
{
	char *path = xasprintf(SHADOW "/fork-%d.log", how);
	int fd = open_as_3(path);
	pid_t pid = CHECK_SYS(how == 0 ? _Fork() : how == 1 ? syscall(SYS_fork) : syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
	if (pid == 0) {
		for (int i = 0; i < LINES; i++) {
			char line[64];
			int n = snprintf(line, sizeof line, "child-line-%d\n", i);
			if (write(fd, line, n) != n)
				_exit(1);
		}
		_exit(0);
	}
	parent_writes(fd);
	wait_ok(pid);
	CHECK_SYS(close(fd));
	expect_two_writers(path, LINES);
	free(path);
}

int main(void)
{
	/* posix_spawn: the child runs while the parent writes. */
	int fd = open_as_3(SHADOW "/spawn.log");
	char *argv[] = { "sh", "-c", (char *)child_script, NULL };
	pid_t pid;
	CHECK_EQ(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
	parent_writes(fd);
	wait_ok(pid);
	CHECK_SYS(close(fd));
	expect_two_writers(SHADOW "/spawn.log", LINES);

	/* popen: the same, the parent writing while the shell runs. */
	fd = open_as_3(SHADOW "/popen.log");
	FILE *p = CHECK_PTR(popen(child_script, "r"));
	parent_writes(fd);
	CHECK_EQ(pclose(p), 0);
	CHECK_SYS(close(fd));
	expect_two_writers(SHADOW "/popen.log", LINES);

	/* system() from a second thread of ours would be the same; from the main thread the
	 * parent waits, so only a forked writer of ours can run beside it. */
	fd = open_as_3(SHADOW "/system.log");
	pid_t writer = CHECK_SYS(fork());
	if (writer == 0) {
		parent_writes(fd);
		_exit(0);
	}
	CHECK_EQ(system(child_script), 0);
	wait_ok(writer);
	CHECK_SYS(close(fd));
	expect_two_writers(SHADOW "/system.log", LINES);

	/* _Fork, and fork and clone as raw system calls. */
	for (int how = 0; how < 3; how++)
		child_writes_beside_parent(how);
	return 0;
}
