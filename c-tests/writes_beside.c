// writes_beside: writes whose follower part runs on the shim's thread beside the lead's
// (large writes, O_DSYNC / O_SYNC / O_DIRECT files, RWF_DSYNC) land where the lead put them
// on both members: at the file position the program left (moved by reads the shim never
// sees), at explicit offsets, past the end (holes), through iovecs; alongside ordinary
// writes, appends and a second thread's large writes; appends to a log, synchronous or not,
// after bytes the shim did not see. Each file is checked against a
// model of what was written; run.sh compares the members.
#include "check.h"
#include <pthread.h>
#include <sys/uio.h>

#define MIB (1 << 20)
#define MODEL_MAX (8 * MIB)

static unsigned char *model;
static size_t model_len;

/* Fills `buf` with bytes that name `tag` and their place, so misplaced bytes show. */
static void fill(unsigned char *buf, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(tag * 31 + i * 7 + i / 4096);
}

static void model_write(const unsigned char *buf, size_t n, off_t at)
{
	CHECK(at + n <= MODEL_MAX);
	if ((size_t)at > model_len)
		memset(model + model_len, 0, at - model_len);
	memcpy(model + at, buf, n);
	if (at + n > model_len)
		model_len = at + n;
}

static void model_reset(void)
{
	model_len = 0;
}

/* The file as the program sees it must be the model. */
#define EXPECT_MODEL(path) expect_model(HERE, path)
static void expect_model(const char *file, int line, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		check_fail(file, line, errno, "open %s", path);
	unsigned char *got = malloc(MODEL_MAX + 1);
	size_t have = 0;
	ssize_t r;
	while ((r = read(fd, got + have, MODEL_MAX + 1 - have)) > 0)
		have += r;
	close(fd);
	if (have != model_len)
		check_fail(file, line, 0, "%s: %zu bytes, want %zu", path, have, model_len);
	for (size_t i = 0; i < have; i++)
		if (got[i] != model[i])
			check_fail(file, line, 0, "%s: byte %zu is %u, want %u", path, i, got[i], model[i]);
	free(got);
}

/* The shim's thread is running: the writes above were made beside the lead's. */
static int beside_thread_runs(void)
{
	return thread_named("libshadow-sync");
}

/* Under write-behind, large writes go to its queue instead (run.sh --write-behind). */
static int written_behind(void)
{
	FILE *f = CHECK_PTR(fopen(getenv("SHADOW_CONFIG"), "r"));
	char line[512];
	int on = 0;
	while (fgets(line, sizeof line, f))
		on |= strcmp(line, "write_behind = true\n") == 0;
	fclose(f);
	return on;
}

static void *nothing(void *arg)
{
	return arg;
}

struct writer {
	char path[64];
	unsigned tag;
};

/* A second thread's large writes to a file of its own: the shim's thread is busy with
 * one of the two callers at a time, the other writes its follower itself. */
static void *big_writer(void *arg)
{
	struct writer *w = arg;
	unsigned char *buf = malloc(MIB + 3);
	int fd = CHECK_SYS(open(w->path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (unsigned i = 0; i < 6; i++) {
		fill(buf, MIB + 3, w->tag + i);
		CHECK_EQ(write(fd, buf, MIB + 3), MIB + 3);
	}
	CHECK_SYS(close(fd));
	free(buf);
	return NULL;
}

static void large_writes(void)
{
	const size_t big = MIB + MIB / 2;
	unsigned char *buf = malloc(2 * MIB + 11);
	unsigned char small[4096];

	/* Write-only: the shim follows the position itself. */
	model_reset();
	int fd = CHECK_SYS(open(SHADOW "/wronly", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	for (unsigned i = 0; i < 3; i++) {
		fill(buf, big, i);
		CHECK_EQ(write(fd, buf, big), (ssize_t)big);
		model_write(buf, big, i * big);
	}
	CHECK(beside_thread_runs() != written_behind());
	CHECK_EQ(lseek(fd, 100000, SEEK_SET), 100000);
	fill(buf, big, 3);
	CHECK_EQ(write(fd, buf, big), (ssize_t)big);
	model_write(buf, big, 100000);
	fill(small, 100, 4);
	CHECK_EQ(write(fd, small, 100), 100);
	model_write(small, 100, 100000 + big);
	CHECK_SYS(close(fd));
	EXPECT_MODEL(SHADOW "/wronly");

	/* Read-write: reads move the position behind the shim's back. */
	model_reset();
	fd = CHECK_SYS(open(SHADOW "/rdwr", O_RDWR | O_CREAT | O_TRUNC, 0644));
	fill(buf, MIB + 1, 5);
	CHECK_EQ(write(fd, buf, MIB + 1), MIB + 1);
	model_write(buf, MIB + 1, 0);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(read(fd, small, 4096), 4096);
	fill(buf, 2 * MIB, 6);
	CHECK_EQ(write(fd, buf, 2 * MIB), 2 * MIB);
	model_write(buf, 2 * MIB, 4096);
	/* Past the end: a hole. */
	fill(buf, MIB + MIB / 5, 7);
	CHECK_EQ(pwrite(fd, buf, MIB + MIB / 5, 3 * MIB), MIB + MIB / 5);
	model_write(buf, MIB + MIB / 5, 3 * MIB);
	CHECK_EQ(read(fd, small, 1000), 1000);
	fill(buf, 2 * MIB + 11, 8);
	struct iovec iov[3] = {
		{ buf, 5 }, { buf + 5, MIB }, { buf + 5 + MIB, MIB + 6 },
	};
	CHECK_EQ(writev(fd, iov, 3), 2 * MIB + 11);
	model_write(buf, 2 * MIB + 11, 4096 + 2 * MIB + 1000);
	fill(buf, MIB + 7, 9);
	struct iovec one[2] = { { buf, 7 }, { buf + 7, MIB } };
	CHECK_EQ(pwritev(fd, one, 2, 12345), MIB + 7);
	model_write(buf, MIB + 7, 12345);
	/* Small, synchronous by flag: at an offset and at the position. */
	fill(small, 4096, 10);
	struct iovec s1 = { small, 4096 };
	CHECK_EQ(pwritev2(fd, &s1, 1, 10, RWF_DSYNC), 4096);
	model_write(small, 4096, 10);
	off_t at = CHECK_SYS(lseek(fd, 0, SEEK_CUR));
	CHECK_EQ(pwritev2(fd, &s1, 1, -1, RWF_DSYNC), 4096);
	model_write(small, 4096, at);
	CHECK_SYS(close(fd));
	EXPECT_MODEL(SHADOW "/rdwr");

	/* An appending fd: its writes land at the end, whatever the position. */
	model_reset();
	fd = CHECK_SYS(open(SHADOW "/append", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644));
	for (unsigned i = 0; i < 3; i++) {
		fill(buf, big, 11 + i);
		CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
		CHECK_EQ(write(fd, buf, big), (ssize_t)big);
		model_write(buf, big, i * big);
	}
	CHECK_SYS(close(fd));
	EXPECT_MODEL(SHADOW "/append");
	free(buf);
}

static void synchronous_files(void)
{
	unsigned char buf[512];
	static const int kinds[] = { O_DSYNC, O_SYNC };

	for (unsigned k = 0; k < 2; k++) {
		const char *path = k ? SHADOW "/osync" : SHADOW "/odsync";
		model_reset();
		int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC | kinds[k], 0644));
		for (unsigned i = 0; i < 20; i++) {
			fill(buf, sizeof buf, 20 + i);
			CHECK_EQ(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
			model_write(buf, sizeof buf, i * sizeof buf);
			/* Made beside the lead's in either mode. */
			CHECK(beside_thread_runs());
			if (i % 5 == 4) {
				/* A read moves the position: the next write lands after it. */
				CHECK_EQ(lseek(fd, 1000, SEEK_SET), 1000);
				CHECK_EQ(read(fd, buf, 100), 100);
				fill(buf, 77, 40 + i);
				CHECK_EQ(write(fd, buf, 77), 77);
				model_write(buf, 77, 1100);
				CHECK_EQ(lseek(fd, 0, SEEK_END), (off_t)model_len);
			}
		}
		fill(buf, sizeof buf, 60);
		CHECK_EQ(pwrite(fd, buf, 300, 20000), 300);
		model_write(buf, 300, 20000);
		CHECK_SYS(close(fd));
		EXPECT_MODEL(path);
	}
}

/* A log: appends land at the lead's end, which a synchronous log's are found at before the
 * lead's write so the follower's is made beside it; after bytes the shim did not see (which
 * the follower gets from the lead first), seeks (which appends ignore) and pwrite (which
 * Linux appends on such an fd). The same log not synchronous, its follower written after
 * the lead. And RWF_APPEND on a synchronous file that does not append. */
static void log_appends(const char *path, int sync)
{
	unsigned char buf[200];

	model_reset();
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | sync, 0644));
	for (unsigned i = 0; i < 30; i++) {
		fill(buf, 200, 100 + i);
		CHECK_EQ(write(fd, buf, 200), 200);
		model_write(buf, 200, model_len);
		if (i % 7 == 3) {
			fill(buf, 33, 140 + i);
			CHECK_EQ(unseen_write(fd, buf, 33), 33);
			model_write(buf, 33, model_len);
		}
		if (i % 5 == 2)
			CHECK_EQ(lseek(fd, 10, SEEK_SET), 10);
		if (i % 9 == 8) {
			fill(buf, 55, 170 + i);
			CHECK_EQ(pwrite(fd, buf, 55, 0), 55);
			model_write(buf, 55, model_len);
		}
	}
	CHECK_SYS(close(fd));
	EXPECT_MODEL(path);
}

static void synchronous_appends(void)
{
	unsigned char buf[100];

	log_appends(SHADOW "/dsync_log", O_DSYNC);
	CHECK(beside_thread_runs());
	log_appends(SHADOW "/log", 0);

	model_reset();
	int fd = CHECK_SYS(open(SHADOW "/dsync_rwf_append", O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC, 0644));
	for (unsigned i = 0; i < 12; i++) {
		fill(buf, 100, 200 + i);
		struct iovec v = { buf, 100 };
		if (i % 3 == 2) {
			/* At the end, the position moved there too. */
			CHECK_EQ(pwritev2(fd, &v, 1, -1, RWF_APPEND), 100);
			model_write(buf, 100, model_len);
			CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)model_len);
		} else {
			/* At the end; the position stays at 0, where the next write lands. */
			CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
			CHECK_EQ(pwritev2(fd, &v, 1, 7, RWF_APPEND), 100);
			model_write(buf, 100, model_len);
			fill(buf, 20, 220 + i);
			CHECK_EQ(write(fd, buf, 20), 20);
			model_write(buf, 20, 0);
		}
	}
	CHECK_SYS(close(fd));
	EXPECT_MODEL(SHADOW "/dsync_rwf_append");
}

static void direct_file(void)
{
	unsigned char *buf;
	CHECK_EQ(posix_memalign((void **)&buf, 4096, 4 * 4096), 0);
	model_reset();
	int fd = open(SHADOW "/direct", O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (fd < 0 && errno == EINVAL) {
		/* The test's file system takes no O_DIRECT: said, not hidden. */
		fprintf(stderr, "*** writes_beside: O_DIRECT refused here; direct writes not checked ***\n");
		free(buf);
		return;
	}
	CHECK_SYS(fd);
	for (unsigned i = 0; i < 8; i++) {
		fill(buf, 4 * 4096, 70 + i);
		off_t at = (off_t)((i * 3) % 8) * 4096;
		CHECK_EQ(pwrite(fd, buf, 4 * 4096, at), 4 * 4096);
		model_write(buf, 4 * 4096, at);
	}
	fill(buf, 4096, 90);
	CHECK_EQ(lseek(fd, 4096, SEEK_SET), 4096);
	CHECK_EQ(write(fd, buf, 4096), 4096);
	model_write(buf, 4096, 4096);
	/* A buffer the device cannot take is refused as natively: the shim's copy of the
	 * bytes keeps the program's alignment (one copy per write, ocb::Snapshot). */
	CHECK_ERR(pwrite(fd, buf + 1, 4096, 0), EINVAL);
	struct iovec two[2] = {{buf, 4096}, {buf + 4096 + 8, 4096}};
	CHECK_ERR(pwritev(fd, two, 2, 0), EINVAL);
	two[1].iov_base = buf + 2 * 4096;
	CHECK_EQ(pwritev(fd, two, 2, 0), 2 * 4096);
	model_write(buf, 4096, 0);
	model_write(buf + 2 * 4096, 4096, 4096);
	CHECK_SYS(close(fd));
	EXPECT_MODEL(SHADOW "/direct");
	free(buf);
}

int main(void)
{
	model = CHECK_PTR(malloc(MODEL_MAX));
	/* A program with threads: the shim's thread starts at its first such write. */
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, nothing, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);

	struct writer w = { SHADOW "/other_thread", 200 };
	CHECK_EQ(pthread_create(&t, NULL, big_writer, &w), 0);
	large_writes();
	CHECK_EQ(pthread_join(t, NULL), 0);
	synchronous_files();
	synchronous_appends();
	direct_file();

	unsigned char *buf = malloc(MIB + 3);
	model_reset();
	for (unsigned i = 0; i < 6; i++) {
		fill(buf, MIB + 3, 200 + i);
		model_write(buf, MIB + 3, (off_t)i * (MIB + 3));
	}
	EXPECT_MODEL(SHADOW "/other_thread");
	free(buf);
	free(model);
	return 0;
}
