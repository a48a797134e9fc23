// inherited_unlinked_reader: a file opened to read, unlinked, then handed to a new program
// as its stdin, as bash does with a here-document in a TMPDIR under the prefix. The new
// program's shim adopts the inherited fd; no member names the file any more, so nothing
// can diverge through a reader: nothing is reported and no recover is due (before, it was
// reported insecure, "inherited after unlink", and `status` asked for recover).
#include "check.h"

int main(void)
{
	write_file(SHADOW "/heredoc", "from a here-document\n");
	int fd = CHECK_SYS(open(SHADOW "/heredoc", O_RDONLY));
	CHECK_SYS(unlink(SHADOW "/heredoc"));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		CHECK_SYS(dup2(fd, 0));
		int out = CHECK_SYS(open(SHADOW "/copied", O_WRONLY | O_CREAT | O_TRUNC, 0644));
		CHECK_SYS(dup2(out, 1));
		execlp("cat", "cat", (char *)NULL);
		_exit(127);
	}
	wait_ok_at(HERE, pid);
	EXPECT_FILE(SHADOW "/copied", "from a here-document\n");
	CHECK_SYS(close(fd));
	printf("an unlinked file handed to a reader: nothing to report\n");
	return 0;
}
