// clone_without_vm: glibc's clone() with a child that gets its own copy of the memory (no
// CLONE_VM: a fork by another name) runs no fork handlers. The shim's ran for fork() alone,
// so the child wrote with its parent's registry slot and intents, and through descriptions
// its parent's shim did not know were shared: the parent's next writes through the shared
// fd reached the follower at a stale position (members differed, 00020 "writes the shim
// did not see moved the file position", recover due). The child's function returns,
// which glibc turns into a bare exit system call: the shim ends its intents there too (no
// recover due). A child that shares the memory (CLONE_VM) goes through as it is.
#define _GNU_SOURCE
#include "check.h"

#include <sched.h>
#include <signal.h>

static int fd;
static int shared_word;

static int copy_child(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		write_str(fd, "child\n");
	int own = CHECK_SYS(open(SHADOW "/by_child", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(own, "made by the child\n");
	CHECK_SYS(close(own));
	return 0;
}

static int vm_child(void *arg)
{
	*(int *)arg = 42;
	return 0;
}

int main(void)
{
	fd = CHECK_SYS(open(SHADOW "/f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (int i = 0; i < 10; i++)
		write_str(fd, "parent\n");
	size_t size = 1 << 20;
	char *stack = malloc(size);
	CHECK(stack != NULL);
	pid_t pid = CHECK_SYS(clone(copy_child, stack + size, SIGCHLD, NULL));
	for (int i = 0; i < 100; i++)
		write_str(fd, "parent\n");
	wait_ok(pid);
	for (int i = 0; i < 10; i++)
		write_str(fd, "parent\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/by_child", "made by the child\n");

	pid = CHECK_SYS(clone(vm_child, stack + size, CLONE_VM | SIGCHLD, &shared_word));
	wait_ok(pid);
	CHECK(shared_word == 42);
	free(stack);
	return 0;
}
