// exec_from_writing_thread: a thread execs while the main thread writes a mirrored file
// without pause. The kernel ends the main thread wherever it is, often holding the file's
// word in the registry (or, under write-behind, with its queue's word set). The new image
// has the same pid, the main thread's id: before, nobody ever let those words go, and as
// their holder looked alive, another process writing the file waited for ever. The new
// image now clears them at start-up; its child's write goes through.
// timeout: 60
#include "check.h"
#include <pthread.h>

#define FILE_PATH SHADOW "/big"
#define CHUNK (4 << 20)

static char *self;

static void *exec_soon(void *arg)
{
	(void)arg;
	usleep(50000);
	execl(self, self, "--new-image", (char *)NULL);
	_exit(127);
}

static int new_image(void)
{
	alarm(30);
	pid_t child = CHECK_SYS(fork());
	if (child == 0) {
		int fd = CHECK_SYS(open(FILE_PATH, O_WRONLY));
		CHECK_EQ(pwrite(fd, "y", 1, 0), 1);
		CHECK_SYS(close(fd));
		_exit(0);
	}
	wait_ok(child);
	/* The killed thread may have left one member a write behind: the file made anew. */
	int fd = CHECK_SYS(open(FILE_PATH, O_WRONLY | O_TRUNC));
	write_str(fd, "done\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(FILE_PATH, "done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--new-image") == 0)
		return new_image();
	self = CHECK_PTR(realpath("/proc/self/exe", NULL));
	char *chunk = CHECK_PTR(malloc(CHUNK));
	memset(chunk, 'x', CHUNK);
	int fd = CHECK_SYS(open(FILE_PATH, O_WRONLY | O_CREAT, 0644));
	CHECK_EQ(pwrite(fd, chunk, CHUNK, 0), CHUNK);
	CHECK_SYS(fsync(fd));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, exec_soon, NULL) == 0);
	for (;;)
		CHECK_EQ(pwrite(fd, chunk, CHUNK, 0), CHUNK);
}
