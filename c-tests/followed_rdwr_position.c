// followed_rdwr_position: writes on a readable and writable fd interleaved with every way
// a read moves its position: read, __read_chk (_FORTIFY_SOURCE), readv, preadv2 at -1,
// the input side of sendfile, splice and copy_file_range, stdio's reads on an r+ stream,
// a dup's reads; reads at an offset (pread, preadv2 at an offset) leave it alone; then a
// second thread's read. Both members are read after each write that follows a read: the
// secondary must get the bytes where the kernel put the primary's. (The shim asks the
// kernel where each write on a readable fd landed; a build that followed the position
// itself, counting these reads, was reverted: reads no hook sees made it unsafe.)
#include "check.h"
#include <sys/sendfile.h>
#include <sys/uio.h>

extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t room);

/* fdatasync first: under write-behind it waits for the secondary's queued writes. */
#define EXPECT_BOTH(fd, path, content) do { \
	CHECK_SYS(fdatasync(fd)); \
	EXPECT_FILE(path, content); \
	EXPECT_FILE(member_path("secondary", path), content); \
} while (0)

static int fd;

static void *read_one(void *arg)
{
	char c;
	(void)arg;
	CHECK_EQ(read(fd, &c, 1), 1);
	return NULL;
}

int main(void)
{
	const char *path = SHADOW "/rdwr";
	char buf[16];
	fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));

	write_str(fd, "abcdefghijklmnop");		/* 0..16 */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(read(fd, buf, 2), 2);			/* at 2 */
	write_str(fd, "C");				/* 2; at 3 */
	EXPECT_BOTH(fd, path, "abCdefghijklmnop");
	CHECK_EQ(__read_chk(fd, buf, 1, sizeof buf), 1); /* at 4 */
	write_str(fd, "E");				/* 4; at 5 */
	EXPECT_BOTH(fd, path, "abCdEfghijklmnop");
	struct iovec v = { .iov_base = buf, .iov_len = 1 };
	CHECK_EQ(readv(fd, &v, 1), 1);			/* at 6 */
	write_str(fd, "G");				/* 6; at 7 */
	EXPECT_BOTH(fd, path, "abCdEfGhijklmnop");
	CHECK_EQ(preadv2(fd, &v, 1, -1, 0), 1);		/* at 8 */
	write_str(fd, "I");				/* 8; at 9 */
	EXPECT_BOTH(fd, path, "abCdEfGhIjklmnop");

	/* Reads at an offset leave the position where it was. */
	CHECK_EQ(pread(fd, buf, 4, 0), 4);
	CHECK_EQ(preadv2(fd, &v, 1, 3, 0), 1);
	write_str(fd, "J");				/* 9; at 10 */
	EXPECT_BOTH(fd, path, "abCdEfGhIJklmnop");

	/* The input side of the in-kernel copies. */
	char *out = xasprintf("%s/out", test_tmp());
	int o = CHECK_SYS(open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(sendfile(o, fd, NULL, 1), 1);		/* at 11 */
	write_str(fd, "L");				/* 11; at 12 */
	EXPECT_BOTH(fd, path, "abCdEfGhIJkLmnop");
	CHECK_EQ(copy_file_range(fd, NULL, o, NULL, 1, 0), 1); /* at 13 */
	write_str(fd, "N");				/* 13; at 14 */
	EXPECT_BOTH(fd, path, "abCdEfGhIJkLmNop");
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_EQ(splice(fd, NULL, p[1], NULL, 1, 0), 1); /* at 15 */
	write_str(fd, "P");				/* 15; at 16 */
	EXPECT_BOTH(fd, path, "abCdEfGhIJkLmNoP");
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	CHECK_SYS(close(o));

	/* A dup shares the position: a read through one moves the other's. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	int d = CHECK_SYS(dup(fd));
	CHECK_EQ(read(d, buf, 1), 1);			/* at 1 */
	write_str(fd, "B");				/* 1; at 2 */
	CHECK_SYS(close(d));
	EXPECT_BOTH(fd, path, "aBCdEfGhIJkLmNoP");

	/* stdio on an r+ stream: its reads fill a buffer, and the stream seeks back before
	 * it writes; the fd's position follows both. */
	FILE *f = CHECK_PTR(fopen(path, "r+"));
	CHECK_EQ(fgetc(f), 'a');
	CHECK_EQ(fgetc(f), 'B');
	CHECK_SYS(fseek(f, 0, SEEK_CUR));
	CHECK_EQ(fputc('c', f), 'c');			/* 2 */
	CHECK_SYS(fflush(f));
	EXPECT_BOTH(fileno(f), path, "aBcdEfGhIJkLmNoP");
	CHECK_EQ(fgetc(f), 'd');
	CHECK_SYS(fseek(f, 0, SEEK_CUR));
	CHECK_EQ(fputs("e", f), 1);			/* 4 */
	CHECK_SYS(fflush(f));
	EXPECT_BOTH(fileno(f), path, "aBcdefGhIJkLmNoP");
	CHECK_SYS(fclose(f));

	/* A second thread reads: from now on the shim asks the kernel. */
	CHECK_EQ(lseek(fd, 5, SEEK_SET), 5);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, read_one, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);		/* at 6 */
	write_str(fd, "g");				/* 6; at 7 */
	EXPECT_BOTH(fd, path, "aBcdefghIJkLmNoP");
	CHECK_EQ(read(fd, buf, 1), 1);			/* at 8 */
	write_str(fd, "i");				/* 8; at 9 */
	EXPECT_BOTH(fd, path, "aBcdefghiJkLmNoP");
	CHECK_SYS(close(fd));
	return 0;
}
