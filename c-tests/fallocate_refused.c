// fallocate_refused: an fallocate the lead refuses (EBADF on a read-only fd, EINVAL,
// EOPNOTSUPP) changed nothing: the follower is given the lead's times only, never its size,
// even while another process appends to the file (before 2026-12-05's fix, the follower's
// read-only fd was ftruncated to the lead's size read outside the file's order: EINVAL, and
// the file reported insecure though the members were identical).
#include "check.h"

int main(void)
{
	write_file(SHADOW "/grown", "start\n");
	/* O_CREAT: the shim opens the follower's file too (read-only). */
	int ro = CHECK_SYS(open(SHADOW "/grown", O_RDONLY | O_CREAT, 0644));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int fd = CHECK_SYS(open(SHADOW "/grown", O_WRONLY | O_APPEND));
		static char line[512];
		memset(line, 'y', sizeof line);
		for (int i = 0; i < 20000; i++)
			CHECK_SYS(write(fd, line, sizeof line));
		_exit(0);
	}
	int status;
	while (CHECK_SYS(waitpid(pid, &status, WNOHANG)) == 0) {
		CHECK_EQ(posix_fallocate(ro, 0, 4096), EBADF);
		CHECK_ERR(fallocate(ro, 0, 0, 4096), EBADF);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_SYS(close(ro));
	int rw = CHECK_SYS(open(SHADOW "/grown", O_RDWR));
	CHECK_ERR(fallocate(rw, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);	/* without KEEP_SIZE */
	CHECK_ERR(fallocate(rw, 0, -1, 4096), EINVAL);
	CHECK_SYS(close(rw));
	printf("refused fallocates: nothing reported\n");
	return 0;
}
