// dispatch_only_for_code_that_calls: the kernel's syscall user dispatch (sud.rs) costs every
// system call of a thread it is set for, wherever made, and only catches the `syscall`
// instructions of the executable's own code. This program has none: its code holds the
// bytes of one (0F 05) only inside another instruction (`mov $0x50f, %eax`, as compilers
// leave in displacements and immediates), so the shim must decode them, find no `syscall`,
// and leave the dispatch off. Before, every program got it: its untouched fds' calls cost
// 1.2 x native (the interpose rows of `make bench`). raw_system_calls.c is the other side.
#include "check.h"

static int looks_like_a_syscall(void)
{
	int r;
	__asm__ volatile("mov $0x50f, %0" : "=r"(r));
	return r;
}

int main(void)
{
	CHECK_EQ(looks_like_a_syscall(), 0x50f);
	CHECK_STREQ(own_code_verdict(), "none");

	/* Its calls through the C library are the shim's as ever. */
	CHECK_SYS(mkdir(SHADOW "/plain", 0755));
	int fd = CHECK_SYS(open(SHADOW "/plain/file", O_CREAT | O_WRONLY | O_TRUNC, 0644));
	CHECK_EQ(write(fd, "text\n", 5), 5);
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/plain/file", "text\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/plain/file"), "text\n");
	return 0;
}
