// stdout_buffering: a standard stream's buffering set before fd 1 or 2 moves onto a file
// under the prefix (as stdbuf's library sets it before the program starts) is kept once
// the shim has swapped in its own stream: a line (or, unbuffered, any output) is in the
// file before any flush, a buffer of the program's size is written out at that size, and
// stderr stays unbuffered unless made otherwise. Before, the swapped stream was fully
// buffered (`stdbuf -oL prog > /shadow/log` wrote its lines late and out of order), its
// size the file's (`stdbuf -o16`), and stderr always unbuffered (`stdbuf -eL`).
#include "check.h"

/* The file's contents now, without flushing stdout. */
static char *now_in(const char *path)
{
	static char buf[256];
	int fd = CHECK_SYS(open(path, O_RDONLY));
	ssize_t n = CHECK_SYS(read(fd, buf, sizeof buf - 1));
	buf[n] = 0;
	CHECK_SYS(close(fd));
	return buf;
}

static void onto_fd(int target, const char *path)
{
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(dup2(fd, target));
	CHECK_SYS(close(fd));
}

static void onto(const char *path)
{
	onto_fd(1, path);
}

/* The sized buffer and stderr's line buffering, each set as stdbuf sets them, before the
 * stream's first output (setvbuf after output is undefined), in a child of its own; each
 * run once into a file outside the prefix and once into one under it, the file's contents
 * noted after every step: both runs must note the same. The program's plain writes to the
 * fd show where the stream's output lands among them. */
static char notes[2][512];

static void note(int run, const char *path)
{
	strcat(notes[run], now_in(path));
	strcat(notes[run], "/");
}

static void sized_stdout(int run, const char *path)
{
	static char sixteen[16];
	CHECK_SYS(setvbuf(stdout, sixteen, _IOFBF, sizeof sixteen));
	onto_fd(1, path);
	for (int i = 0; i < 5; i++) {
		printf("%d234567890", i);
		note(run, path);
	}
	write_str(1, "|W|");
	printf("end");
	note(run, path);
	fflush(stdout);
	note(run, path);
}

static void line_buffered_stderr(int run, const char *path)
{
	CHECK_SYS(setvbuf(stderr, NULL, _IOLBF, 0));
	onto_fd(2, path);
	fprintf(stderr, "x");
	note(run, path);
	write_str(2, "y");
	fprintf(stderr, "z\npart");
	note(run, path);
	fflush(stderr);
	note(run, path);
}

static void as_natively(void (*test)(int, const char *), const char *name)
{
	const char *paths[2] = { xasprintf("%s/%s", test_tmp(), name), xasprintf(SHADOW "/%s", name) };
	int fds[2];
	CHECK_SYS(pipe(fds));
	for (int run = 0; run < 2; run++) {
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0) {
			test(run, paths[run]);
			write_str(fds[1], notes[run]);
			exit(0);
		}
		int status;
		CHECK_SYS(waitpid(pid, &status, 0));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ssize_t n = CHECK_SYS(read(fds[0], notes[run], sizeof notes[run] - 1));
		notes[run][n] = 0;
	}
	CHECK_STREQ(notes[1], notes[0]);
	CHECK_SYS(close(fds[0]));
	CHECK_SYS(close(fds[1]));
}

int main(void)
{
	as_natively(sized_stdout, "sized");
	as_natively(line_buffered_stderr, "err");

	int saved = CHECK_SYS(dup(1));
	CHECK_SYS(setvbuf(stdout, NULL, _IOLBF, 0));
	onto(SHADOW "/line");
	printf("a line\npart");
	CHECK_STREQ(now_in(SHADOW "/line"), "a line\n");
	fflush(stdout);
	CHECK_SYS(dup2(saved, 1));

	CHECK_SYS(setvbuf(stdout, NULL, _IONBF, 0));
	onto(SHADOW "/none");
	printf("part");
	CHECK_STREQ(now_in(SHADOW "/none"), "part");
	CHECK_SYS(dup2(saved, 1));

	/* stderr left alone is unbuffered. */
	int saved_err = CHECK_SYS(dup(2));
	onto_fd(2, SHADOW "/plain_err");
	fprintf(stderr, "unbuffered");
	CHECK_STREQ(now_in(SHADOW "/plain_err"), "unbuffered");
	CHECK_SYS(dup2(saved_err, 2));
	return 0;
}
