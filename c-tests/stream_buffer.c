// stream_buffer: a stream on a shadowed file buffers as a stream on a plain file of the
// same file system does. glibc gives a file stream a buffer of the file's st_blksize
// (when under BUFSIZ), while the shim's streams are fopencookie streams, which glibc gives
// BUFSIZ whatever the file: a program that mixed its stream with the fd saw other
// positions (fgetc left the fd's position at 8192 where natively it is 4096 on ext4), and
// a writer's bytes reached the file in other chunks. Each case runs on a plain file in the
// test's scratch directory (the same file system as the members) and on /shadow, and the
// two must agree.
#include "check.h"

/* Bytes on the file after 5,000 bytes written in 100-byte fwrites, before any flush. */
static long long written_unflushed(const char *path, const char *mode, size_t own_buffer)
{
	static char own[100];
	FILE *f = CHECK_PTR(fopen(path, mode));
	if (own_buffer)
		CHECK(setvbuf(f, own, _IOFBF, own_buffer) == 0);
	char chunk[100];
	memset(chunk, 'w', sizeof chunk);
	for (int i = 0; i < 50; i++)
		CHECK_EQ(fwrite(chunk, 1, sizeof chunk, f), sizeof chunk);
	long long size = file_size(path);
	CHECK_SYS(fclose(f));
	CHECK_EQ(file_size(path), 5000);
	return size;
}

/* The fd's position after one fgetc on a 20,000-byte file opened with `mode`. */
static long long position_after_fgetc(const char *path, const char *mode)
{
	FILE *f = CHECK_PTR(fopen(path, mode));
	CHECK_EQ(fgetc(f), 'w');
	long long at = lseek(fileno(f), 0, SEEK_CUR);
	CHECK_SYS(fclose(f));
	return at;
}

int main(void)
{
	char *plain = xasprintf("%s/plain", test_tmp());
	const char *shadowed = SHADOW "/shadowed";

	long long n = written_unflushed(plain, "w", 0);
	CHECK_EQ(written_unflushed(shadowed, "w", 0), n);
	CHECK_EQ(written_unflushed(shadowed, "w+", 0), written_unflushed(plain, "w+", 0));
	/* A buffer the program gives is the program's, as natively. */
	CHECK_EQ(written_unflushed(shadowed, "w", 100), written_unflushed(plain, "w", 100));

	char big[20000];
	memset(big, 'w', sizeof big);
	int fd = CHECK_SYS(open(plain, O_WRONLY | O_TRUNC));
	write_all(fd, big, sizeof big);
	CHECK_SYS(close(fd));
	fd = CHECK_SYS(open(shadowed, O_WRONLY | O_TRUNC));
	write_all(fd, big, sizeof big);
	CHECK_SYS(close(fd));
	CHECK_EQ(position_after_fgetc(shadowed, "r+"), position_after_fgetc(plain, "r+"));
	CHECK_EQ(position_after_fgetc(shadowed, "a+"), position_after_fgetc(plain, "a+"));

	/* fdopen's stream too. */
	fd = CHECK_SYS(open(shadowed, O_RDWR));
	FILE *f = CHECK_PTR(fdopen(fd, "r+"));
	CHECK_EQ(fgetc(f), 'w');
	long long at = lseek(fd, 0, SEEK_CUR);
	CHECK_SYS(fclose(f));
	CHECK_EQ(at, position_after_fgetc(plain, "r+"));
	printf("unflushed after 5000 bytes: %lld; fd position after one fgetc: %lld\n", n, at);
	return 0;
}
