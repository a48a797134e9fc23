// exec_handover: a shadowed fd without FD_CLOEXEC survives exec and stays mirrored.
#include "check.h"

/* Re-executed as: exec_handover --child FD */
static int child_main(int fd)
{
	write_str(fd, "exec-child\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(atoi(argv[2]));

	const char *path = SHADOW "/f";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	if (fd != 3) {
		CHECK_EQ(dup3(fd, 3, O_CLOEXEC), 3);
		CHECK_SYS(close(fd));
	}
	CHECK_EQ(fcntl(3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_SYS(fcntl(3, F_SETFD, 0));
	CHECK_EQ(fcntl(3, F_GETFD) & FD_CLOEXEC, 0);
	write_str(3, "first\n");

	/* A shell writes to the inherited descriptor. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "echo hi >&3", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);

	/* This program, re-executed, writes to it too. */
	char *self = CHECK_PTR(realpath("/proc/self/exe", NULL));
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl(self, self, "--child", "3", (char *)NULL);
		_exit(127);
	}
	wait_ok(pid);

	/* A close-on-exec shadowed fd must really be closed in the new image. */
	int ce = CHECK_SYS(open(SHADOW "/cloexec", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	char *cmd = xasprintf("echo leaked >&%d", ce);
	pid = CHECK_SYS(fork());
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);	/* sh: bad fd */
	CHECK_SYS(close(ce));
	EXPECT_FILE(SHADOW "/cloexec", "");

	write_str(3, "last\n");
	CHECK_SYS(close(3));
	EXPECT_FILE(path, "first\nhi\nexec-child\nlast\n");

	/* A shell redirection opens a shadowed path itself, and ls writes to it. */
	system_ok("ls / > " SHADOW "/ls.out");
	char *native = xasprintf("%s/ls.native", test_tmp());
	char *cmd2 = xasprintf("ls / > '%s'", native);
	system_ok(cmd2);
	size_t len;
	char *want = read_whole_file(native, &len);
	CHECK(len > 0);
	EXPECT_FILE_BYTES(SHADOW "/ls.out", want, len);
	return 0;
}
