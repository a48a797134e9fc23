// mmap_exit: a shared writable mapping of a shadowed file (its fd closed) still in place
// when its process leaves by _exit (as a Python multiprocessing worker does, by os._exit),
// replaces its image by exec, or exits: what was written through it reaches the secondary
// too, and no crash is reported. Before, after _exit or exec the secondary's copy stayed
// as it was, nothing reported; after exit "ended with changes in flight" was.
#include "check.h"

#include <sys/mman.h>
#include <sys/wait.h>

static void write_mapped(const char *path, const char *what)
{
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(fd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memcpy(m, what, strlen(what));
	CHECK_SYS(close(fd));
}

int main(void)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_mapped(SHADOW "/by_exit", "worker");
		_exit(0);
	}
	wait_ok_at(HERE, pid);
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_mapped(SHADOW "/by_exec", "execed");
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	wait_ok_at(HERE, pid);
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		write_mapped(SHADOW "/by_return", "return");
		exit(0);
	}
	wait_ok_at(HERE, pid);
	char want[4096] = { 0 };
	memcpy(want, "worker", 6);
	EXPECT_FILE_BYTES(member_path("secondary", SHADOW "/by_exit"), want, sizeof want);
	memcpy(want, "execed", 6);
	EXPECT_FILE_BYTES(member_path("secondary", SHADOW "/by_exec"), want, sizeof want);
	memcpy(want, "return", 6);
	EXPECT_FILE_BYTES(member_path("secondary", SHADOW "/by_return"), want, sizeof want);
	return 0;
}
