/*
 * bench — libshadow benchmark program.
 *
 *   bench WORKLOAD MODE DIR [DIR2] [--scale F] [--aux DIR] [--seed N]
 *
 * MODE is one of
 *   native    plain syscalls on DIR (a real directory), no shim expected;
 *   shadowed  plain syscalls on DIR, a path under the shim's virtual prefix
 *             (e.g. /shadow), run with LD_PRELOAD=libshadow.so;
 *   ideal     the program mirrors by itself: DIR is the primary and DIR2 the
 *             secondary real directory; every mutating call is made on the
 *             primary fd and then on the secondary fd, reads and stats go to
 *             the primary only.  This is the limit a synchronous mirror can
 *             reach with the same syscalls.
 *
 * Every timed phase prints one JSON line on stdout:
 *   {"workload":"...","mode":"...","phase":"...","seconds":S,"ops":N,"bytes":B}
 * Memory phases print "rss_bytes" instead of "seconds".
 *
 * Two helpers for the resync rows (run.py's resync.py drives them, shadowed):
 *   bench tree MODE DIR          reads operations from stdin, one a line:
 *                                "m REL" mkdir, "w INDEX GEN REL" (re)write a
 *                                4 KiB file, "u REL" unlink; prints one phase.
 *   bench stallwriter MODE DIR --file REL [--seconds S] [--sleep-us N]
 *         [--gaps-out PATH]      appends 64-byte records to REL until SIGTERM,
 *                                SIGINT or S seconds, timing the gap between
 *                                the starts of consecutive write() calls.
 *
 * Exit status: 0 ok, 2 usage or a failed syscall, 3 a content check failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum bench_mode { MODE_NATIVE, MODE_SHADOWED, MODE_IDEAL };

static enum bench_mode g_mode;
static const char *g_mode_name;
static const char *g_workload;
static const char *g_dir[2];
static const char *g_aux = "/tmp";
static double g_scale = 1.0;
static int g_sync;
static uint64_t g_seed = 0x5eed5eedULL;
static const char *g_file = "stall.dat"; /* stallwriter: the file to append to */
static double g_seconds = 60;            /* stallwriter: stop after this long */
static long g_sleep_us = 100;            /* stallwriter: pause between writes */

/* ------------------------------------------------------------------ utils */

static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	fprintf(stderr, "bench %s %s: ", g_workload, g_mode_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(2);
}

static void check_failed(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench %s %s: CONTENT CHECK FAILED: ", g_workload, g_mode_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(3);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit(const char *phase, double seconds, uint64_t ops, uint64_t bytes)
{
	printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"phase\":\"%s\","
	       "\"seconds\":%.9f,\"ops\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n",
	       g_workload, g_mode_name, phase, seconds, ops, bytes);
	fflush(stdout);
}

static void emit_rss(const char *phase, uint64_t rss_bytes, uint64_t files)
{
	printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"phase\":\"%s\","
	       "\"rss_bytes\":%" PRIu64 ",\"files\":%" PRIu64 "}\n",
	       g_workload, g_mode_name, phase, rss_bytes, files);
	fflush(stdout);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Deterministic bytes for (tag, index): what a block should contain. */
static void fill_pattern(void *buf, size_t len, uint64_t tag, uint64_t index)
{
	uint64_t s = (tag << 40) ^ index ^ g_seed;
	unsigned char *p = buf;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = splitmix64(&s);
		memcpy(p + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = splitmix64(&s);
		memcpy(p + i, &v, len - i);
	}
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("malloc(%zu)", n);
	return p;
}

static uint64_t scaled(uint64_t full, uint64_t minimum)
{
	double v = (double)full * g_scale;
	uint64_t r = v < 1.0 ? 1 : (uint64_t)v;
	return r < minimum ? minimum : r;
}

static void shuffle(uint32_t *a, uint32_t n, uint64_t seed)
{
	uint64_t s = seed ^ g_seed;
	for (uint32_t i = 0; i < n; i++)
		a[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(splitmix64(&s) % (i + 1));
		uint32_t t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* 0, n-1, 1, n-2, ...: alternate ends towards the middle. */
static void butterfly(uint32_t *a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		a[i] = (i % 2 == 0) ? i / 2 : n - 1 - i / 2;
}

static uint64_t vm_rss_bytes(void)
{
	char line[256];
	uint64_t kib = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		die("fopen /proc/self/status");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

/* ------------------------------------------------- mirrored file helpers */

/*
 * mfile: one logical open file.  native/shadowed: one fd on DIR.  ideal: the
 * primary fd and, when the file is opened for writing, the secondary fd too.
 * Reads and seeks go to the primary only; the offset is tracked here, and the
 * secondary's is set (one lseek) only before a write that depends on it.  So
 * ideal reads cost exactly what native reads cost, and a seek + write costs
 * lseek A, lseek B, write A, write B: the fewest syscalls that keep the
 * members identical without reading the primary's offset back.
 */
struct mfile {
	int fd[2];
	int n;
	int append; /* O_APPEND: writes ignore the offset */
	int stale;  /* secondary's offset differs from pos */
	off_t pos;  /* the primary's offset, tracked when n == 2 */
};

static void member_path(char *out, size_t sz, int member, const char *rel)
{
	if ((size_t)snprintf(out, sz, "%s/%s", g_dir[member], rel) >= sz) {
		errno = ENAMETOOLONG;
		die("path %s", rel);
	}
}

static int members(void)
{
	return g_mode == MODE_IDEAL ? 2 : 1;
}

static void m_open(struct mfile *f, const char *rel, int flags, mode_t perm)
{
	char p[4096];
	int writable = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
	f->n = writable ? members() : 1;
	f->append = (flags & O_APPEND) != 0;
	f->stale = 0;
	f->pos = 0;
	for (int i = 0; i < f->n; i++) {
		member_path(p, sizeof p, i, rel);
		f->fd[i] = open(p, flags, perm);
		if (f->fd[i] < 0)
			die("open %s", p);
	}
}

static void m_close(struct mfile *f)
{
	for (int i = 0; i < f->n; i++)
		if (close(f->fd[i]) != 0)
			die("close");
}

static void m_write(struct mfile *f, const void *buf, size_t len)
{
	if (f->stale && !f->append) {
		if (lseek(f->fd[1], f->pos, SEEK_SET) != f->pos)
			die("lseek (secondary)");
		f->stale = 0;
	}
	for (int i = 0; i < f->n; i++) {
		ssize_t w = write(f->fd[i], buf, len);
		if (w != (ssize_t)len)
			die("write %zu bytes (member %d) returned %zd", len, i, w);
	}
	f->pos += (off_t)len;
}

static void m_pwrite(struct mfile *f, const void *buf, size_t len, off_t off)
{
	for (int i = 0; i < f->n; i++) {
		ssize_t w = pwrite(f->fd[i], buf, len, off);
		if (w != (ssize_t)len)
			die("pwrite %zu bytes (member %d) returned %zd", len, i, w);
	}
}

static ssize_t m_read(struct mfile *f, void *buf, size_t len)
{
	ssize_t r = read(f->fd[0], buf, len);
	if (r < 0)
		die("read");
	if (r > 0) {
		f->pos += r;
		f->stale = f->n == 2;
	}
	return r;
}

static void m_read_exact(struct mfile *f, void *buf, size_t len)
{
	ssize_t r = m_read(f, buf, len);
	if (r != (ssize_t)len)
		check_failed("short read: %zd of %zu bytes", r, len);
}

static void m_lseek(struct mfile *f, off_t off)
{
	if (lseek(f->fd[0], off, SEEK_SET) != off)
		die("lseek");
	f->pos = off;
	f->stale = f->n == 2;
}

static void m_fsync(struct mfile *f)
{
	for (int i = 0; i < f->n; i++)
		if (fsync(f->fd[i]) != 0)
			die("fsync");
}

static void m_fdatasync(struct mfile *f)
{
	for (int i = 0; i < f->n; i++)
		if (fdatasync(f->fd[i]) != 0)
			die("fdatasync");
}

static void m_mkdir(const char *rel)
{
	char p[4096];
	for (int i = 0; i < members(); i++) {
		member_path(p, sizeof p, i, rel);
		if (mkdir(p, 0755) != 0)
			die("mkdir %s", p);
	}
}

static void m_rmdir(const char *rel)
{
	char p[4096];
	for (int i = 0; i < members(); i++) {
		member_path(p, sizeof p, i, rel);
		if (rmdir(p) != 0)
			die("rmdir %s", p);
	}
}

static void m_unlink(const char *rel)
{
	char p[4096];
	for (int i = 0; i < members(); i++) {
		member_path(p, sizeof p, i, rel);
		if (unlink(p) != 0)
			die("unlink %s", p);
	}
}

static void m_rename(const char *from, const char *to)
{
	char a[4096], b[4096];
	for (int i = 0; i < members(); i++) {
		member_path(a, sizeof a, i, from);
		member_path(b, sizeof b, i, to);
		if (rename(a, b) != 0)
			die("rename %s %s", a, b);
	}
}

static void m_stat(const char *rel, struct stat *st)
{
	char p[4096];
	member_path(p, sizeof p, 0, rel);
	if (stat(p, st) != 0)
		die("stat %s", p);
}

/* Read a whole file back through DIR (primary) and compare with expect(). */
typedef void (*expect_fn)(void *buf, size_t len, uint64_t block, void *ctx);

static void verify_file(const char *rel, uint64_t size, size_t block, expect_fn expect, void *ctx)
{
	struct mfile f;
	unsigned char *got = xmalloc(block), *want = xmalloc(block);
	struct stat st;
	m_open(&f, rel, O_RDONLY, 0);
	if (fstat(f.fd[0], &st) != 0)
		die("fstat %s", rel);
	if ((uint64_t)st.st_size != size)
		check_failed("%s: size %jd, expected %" PRIu64, rel, (intmax_t)st.st_size, size);
	for (uint64_t b = 0; b * block < size; b++) {
		size_t len = size - b * block < block ? (size_t)(size - b * block) : block;
		m_read_exact(&f, got, len);
		expect(want, len, b, ctx);
		if (memcmp(got, want, len) != 0)
			check_failed("%s: block %" PRIu64 " (offset %" PRIu64 ") differs",
				     rel, b, b * (uint64_t)block);
	}
	if (m_read(&f, got, 1) != 0)
		check_failed("%s: data past expected end", rel);
	m_close(&f);
	free(got);
	free(want);
}

/* ------------------------------------------------------------ workloads */

/*
 * DiskShadow's Disk Tester: a file of 500 blocks of 512 bytes, created,
 * read sequentially / randomly / butterfly, rewritten the same three ways.
 * Each read checks the block against what was last written there.  One test
 * takes a few milliseconds here, so the whole test runs DT_ITERS times in one
 * process and each phase reports the sum (once with the sync flag, where one
 * test takes long enough).
 */
#define DT_BLOCKS 500
#define DT_BS 512
#define DT_ITERS 20

struct dt_state {
	struct mfile f;
	unsigned char *gen[4];            /* contents: create, then 3 rewrites */
	const unsigned char *cur[DT_BLOCKS]; /* what each block holds now */
};

static void dt_expect(void *buf, size_t len, uint64_t block, void *ctx)
{
	const struct dt_state *st = ctx;
	memcpy(buf, st->cur[block], len);
}

/* One pass over the blocks in the given order: read and check, or write gen. */
static double dt_pass(struct dt_state *st, const uint32_t *order, int seek_each, int gen)
{
	unsigned char buf[DT_BS];
	double t = now();
	if (!seek_each)
		m_lseek(&st->f, 0);
	for (int k = 0; k < DT_BLOCKS; k++) {
		uint32_t b = order[k];
		if (seek_each)
			m_lseek(&st->f, (off_t)b * DT_BS);
		if (gen < 0) {
			m_read_exact(&st->f, buf, DT_BS);
			if (memcmp(buf, st->cur[b], DT_BS) != 0)
				check_failed("disktest.dat: block %u differs", b);
		} else {
			m_write(&st->f, st->gen[gen] + (size_t)b * DT_BS, DT_BS);
			st->cur[b] = st->gen[gen] + (size_t)b * DT_BS;
		}
	}
	return now() - t;
}

static void wl_disktester(void)
{
	static const char *const phases[] = { "create", "read_seq", "read_random",
					      "read_butterfly", "rewrite_seq",
					      "rewrite_random", "rewrite_butterfly" };
	enum { NPHASES = 7 };
	struct dt_state st;
	uint32_t seq[DT_BLOCKS], rnd_read[DT_BLOCKS], rnd_write[DT_BLOCKS], fly[DT_BLOCKS];
	double sum[NPHASES] = { 0 }, total = 0;
	int iters = g_sync ? 1 : DT_ITERS;
	int flags = O_RDWR | O_CREAT | O_TRUNC | (g_sync ? O_SYNC : 0);

	for (int g = 0; g < 4; g++) {
		st.gen[g] = xmalloc((size_t)DT_BLOCKS * DT_BS);
		for (int b = 0; b < DT_BLOCKS; b++)
			fill_pattern(st.gen[g] + (size_t)b * DT_BS, DT_BS, 100 + g, b);
	}
	for (uint32_t i = 0; i < DT_BLOCKS; i++)
		seq[i] = i;
	shuffle(rnd_read, DT_BLOCKS, 1);
	shuffle(rnd_write, DT_BLOCKS, 2);
	butterfly(fly, DT_BLOCKS);

	for (int it = 0; it < iters; it++) {
		double t0 = now();
		m_open(&st.f, "disktest.dat", flags, 0644);
		dt_pass(&st, seq, 0, 0);
		sum[0] += now() - t0; /* the create phase includes the open */
		sum[1] += dt_pass(&st, seq, 0, -1);
		sum[2] += dt_pass(&st, rnd_read, 1, -1);
		sum[3] += dt_pass(&st, fly, 1, -1);
		sum[4] += dt_pass(&st, seq, 0, 1);
		sum[5] += dt_pass(&st, rnd_write, 1, 2);
		sum[6] += dt_pass(&st, fly, 1, 3);
		m_close(&st.f);
		total += now() - t0;
	}
	for (int p = 0; p < NPHASES; p++)
		emit(phases[p], sum[p], (uint64_t)iters * DT_BLOCKS,
		     (uint64_t)iters * DT_BLOCKS * DT_BS);
	emit("total", total, (uint64_t)iters * NPHASES * DT_BLOCKS,
	     (uint64_t)iters * NPHASES * DT_BLOCKS * DT_BS);

	verify_file("disktest.dat", DT_BLOCKS * DT_BS, DT_BS, dt_expect, &st);
	for (int g = 0; g < 4; g++)
		free(st.gen[g]);
}

/* The Disk Tester with the "sync flag": the file is opened O_SYNC. */
static void wl_disktester_sync(void)
{
	g_sync = 1;
	wl_disktester();
}

/*
 * DiskShadow's big-file test: 5 x (create, 5 writes of 65520 bytes, read it
 * all back 5 bytes at a time, checking every 5 bytes).
 */
#define BF_FILES 5
#define BF_WRITES 5
#define BF_WSIZE 65520
#define BF_RSIZE 5

static void wl_bigfile(void)
{
	unsigned char *data = xmalloc((size_t)BF_WRITES * BF_WSIZE);
	unsigned char got[BF_RSIZE];
	double t_write = 0, t_read = 0, t;
	uint64_t reads = 0;
	char name[64];

	for (int n = 0; n < BF_FILES; n++) {
		struct mfile f;
		uint64_t pos = 0;
		ssize_t r;
		fill_pattern(data, (size_t)BF_WRITES * BF_WSIZE, 200, n);
		snprintf(name, sizeof name, "big%d.dat", n);

		t = now();
		m_open(&f, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		for (int w = 0; w < BF_WRITES; w++)
			m_write(&f, data + (size_t)w * BF_WSIZE, BF_WSIZE);
		m_close(&f);
		t_write += now() - t;

		t = now();
		m_open(&f, name, O_RDONLY, 0);
		while ((r = m_read(&f, got, BF_RSIZE)) > 0) {
			if (pos + (uint64_t)r > (uint64_t)BF_WRITES * BF_WSIZE ||
			    memcmp(got, data + pos, (size_t)r) != 0)
				check_failed("%s: bytes at offset %" PRIu64 " differ", name, pos);
			pos += (uint64_t)r;
			reads++;
		}
		m_close(&f);
		t_read += now() - t;
		if (pos != (uint64_t)BF_WRITES * BF_WSIZE)
			check_failed("%s: read back %" PRIu64 " bytes", name, pos);
	}
	emit("create_write", t_write, BF_FILES * BF_WRITES, (uint64_t)BF_FILES * BF_WRITES * BF_WSIZE);
	emit("read5_check", t_read, reads, (uint64_t)BF_FILES * BF_WRITES * BF_WSIZE);
	emit("total", t_write + t_read, BF_FILES * BF_WRITES + reads,
	     2ULL * BF_FILES * BF_WRITES * BF_WSIZE);
	free(data);
}

/*
 * Interposition cost on fds the shim does not mirror: 1-byte writes to
 * /dev/null, fstat and lseek on a plain file outside the prefix.  A shadowed
 * file stays open throughout so the shim has an active set and fd table.
 */
static void wl_interpose(void)
{
	uint64_t n = scaled(1000000, 1000);
	char plain[4096];
	struct mfile anchor;
	struct stat st;
	double t;
	int devnull, fd;
	char zero[4096];

	m_open(&anchor, "anchor.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	m_write(&anchor, "anchor\n", 7);

	snprintf(plain, sizeof plain, "%s/plain-%ld.dat", g_aux, (long)getpid());
	fd = open(plain, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open %s", plain);
	memset(zero, 0, sizeof zero);
	if (write(fd, zero, sizeof zero) != (ssize_t)sizeof zero)
		die("write %s", plain);
	devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0)
		die("open /dev/null");

	t = now();
	for (uint64_t i = 0; i < n; i++)
		if (write(devnull, "x", 1) != 1)
			die("write /dev/null");
	emit("devnull_write_1b", now() - t, n, n);

	t = now();
	for (uint64_t i = 0; i < n; i++)
		if (fstat(fd, &st) != 0)
			die("fstat");
	emit("fstat_plain", now() - t, n, 0);
	if (st.st_size != (off_t)sizeof zero)
		check_failed("fstat size %jd", (intmax_t)st.st_size);

	t = now();
	for (uint64_t i = 0; i < n; i++) {
		off_t o = (off_t)(i & 4095);
		if (lseek(fd, o, SEEK_SET) != o)
			die("lseek");
	}
	emit("lseek_plain", now() - t, n, 0);

	/* A program that flushes now and then must not pay for it on every later call
	 * (a shim thread would tax each syscall of a single-threaded process). */
	m_fsync(&anchor);
	t = now();
	for (uint64_t i = 0; i < n; i++)
		if (write(devnull, "x", 1) != 1)
			die("write /dev/null");
	emit("devnull_write_1b_after_fsync", now() - t, n, n);

	close(devnull);
	close(fd);
	unlink(plain);
	m_close(&anchor);
}

/* Streaming: SIZE in 1 MiB writes, then fsync.  Each MiB carries its index. */
#define MIB (1024 * 1024)

static void stream_expect(void *buf, size_t len, uint64_t block, void *ctx)
{
	(void)ctx;
	fill_pattern(buf, len, 300, 0);
	memcpy(buf, &block, sizeof block);
}

static void wl_stream(void)
{
	uint64_t mibs = scaled(1024, 1);
	unsigned char *buf = xmalloc(MIB);
	struct mfile f;
	double t, t0;

	fill_pattern(buf, MIB, 300, 0);
	t0 = t = now();
	m_open(&f, "stream.dat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (uint64_t i = 0; i < mibs; i++) {
		memcpy(buf, &i, sizeof i);
		m_write(&f, buf, MIB);
	}
	emit("write_1m", now() - t, mibs, mibs * MIB);
	t = now();
	m_fsync(&f);
	emit("fsync", now() - t, 1, 0);
	m_close(&f);
	emit("total", now() - t0, mibs + 1, mibs * MIB);
	verify_file("stream.dat", mibs * MIB, MIB, stream_expect, NULL);
	free(buf);
}

/*
 * Small random rewrites: 4 KiB pwrite at random block-aligned offsets (fixed
 * seed) in a 64 MiB file, as many writes as the file has blocks.  Each write
 * carries its sequence number; the file is checked against a replay.
 */
#define BLK 4096

struct rw_ctx {
	const int64_t *last; /* per block: index of the last write, or -1 */
};

static void rw_expect(void *buf, size_t len, uint64_t block, void *ctx)
{
	const struct rw_ctx *c = ctx;
	int64_t k = c->last[block];
	if (k < 0) {
		fill_pattern(buf, len, 400, block);
	} else {
		fill_pattern(buf, len, 401, 0);
		memcpy(buf, &k, sizeof k);
	}
}

static void make_file(const char *rel, uint64_t size, int keep_open, struct mfile *out,
		      uint64_t tag)
{
	unsigned char *buf = xmalloc(MIB);
	struct mfile f;
	m_open(&f, rel, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (uint64_t off = 0; off < size; off += MIB) {
		size_t len = size - off < MIB ? (size_t)(size - off) : MIB;
		for (size_t b = 0; b < len; b += BLK)
			fill_pattern(buf + b, BLK, tag, (off + b) / BLK);
		m_write(&f, buf, len);
	}
	if (keep_open)
		*out = f;
	else
		m_close(&f);
	free(buf);
}

static void wl_randwrite(void)
{
	uint64_t size = scaled(64, 1) * MIB;
	uint64_t nblocks = size / BLK, nwrites = nblocks;
	int64_t *last = xmalloc(nblocks * sizeof *last);
	uint64_t *offs = xmalloc(nwrites * sizeof *offs);
	unsigned char buf[BLK];
	uint64_t s = g_seed ^ 0x4444;
	struct rw_ctx c = { last };
	struct mfile f;
	double t;

	make_file("random.dat", size, 1, &f, 400);
	for (uint64_t b = 0; b < nblocks; b++)
		last[b] = -1;
	for (uint64_t k = 0; k < nwrites; k++) {
		offs[k] = (splitmix64(&s) % nblocks) * BLK;
		last[offs[k] / BLK] = (int64_t)k;
	}
	fill_pattern(buf, BLK, 401, 0);

	t = now();
	for (uint64_t k = 0; k < nwrites; k++) {
		memcpy(buf, &k, sizeof k);
		m_pwrite(&f, buf, BLK, (off_t)offs[k]);
	}
	emit("pwrite_4k_random", now() - t, nwrites, nwrites * BLK);
	m_close(&f);
	verify_file("random.dat", size, BLK, rw_expect, &c);
	free(last);
	free(offs);
}

/*
 * Reads on a shadowed fd: a 64 MiB file opened read-write (so the shim
 * mirrors the fd), read sequentially in 4 KiB reads, 4 passes.  Each block
 * starts with its own pattern; the first 8 bytes of each read are checked.
 */
static void wl_read(void)
{
	uint64_t size = scaled(64, 1) * MIB, nblocks = size / BLK;
	const int passes = 4;
	unsigned char buf[BLK], want[BLK];
	uint64_t *first = xmalloc(nblocks * sizeof *first);
	struct mfile f;
	double t;

	make_file("read.dat", size, 1, &f, 500);
	for (uint64_t b = 0; b < nblocks; b++) {
		fill_pattern(want, BLK, 500, b);
		memcpy(&first[b], want, 8);
	}

	t = now();
	for (int p = 0; p < passes; p++) {
		m_lseek(&f, 0);
		for (uint64_t b = 0; b < nblocks; b++) {
			m_read_exact(&f, buf, BLK);
			if (memcmp(buf, &first[b], 8) != 0)
				check_failed("read.dat: block %" PRIu64 " differs", b);
		}
	}
	emit("seq_read_4k", now() - t, passes * nblocks, passes * size);
	m_close(&f);
	free(first);
}

/*
 * Metadata storm: in a tree of 100 subdirectories, create + write 100 bytes,
 * rename, stat (size checked), unlink N files; then remove the tree (rmdir
 * fails on anything left behind).
 */
static void wl_metadata(void)
{
	const unsigned ndirs = 100;
	uint64_t nfiles = scaled(10000, ndirs);
	unsigned char data[100];
	char a[256], b[256];
	struct stat st;
	double t, t0;

	fill_pattern(data, sizeof data, 600, 0);
#define FNAME(buf, pfx, i) snprintf(buf, sizeof buf, "md/d%03u/%s%06" PRIu64, \
				    (unsigned)((i) % ndirs), pfx, (uint64_t)(i))

	t0 = t = now();
	m_mkdir("md");
	for (unsigned d = 0; d < ndirs; d++) {
		snprintf(a, sizeof a, "md/d%03u", d);
		m_mkdir(a);
	}
	emit("mkdir", now() - t, ndirs + 1, 0);

	t = now();
	for (uint64_t i = 0; i < nfiles; i++) {
		struct mfile f;
		FNAME(a, "f", i);
		m_open(&f, a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		m_write(&f, data, sizeof data);
		m_close(&f);
	}
	emit("create_write_100b", now() - t, nfiles, nfiles * sizeof data);

	t = now();
	for (uint64_t i = 0; i < nfiles; i++) {
		FNAME(a, "f", i);
		FNAME(b, "r", i);
		m_rename(a, b);
	}
	emit("rename", now() - t, nfiles, 0);

	t = now();
	for (uint64_t i = 0; i < nfiles; i++) {
		FNAME(b, "r", i);
		m_stat(b, &st);
		if (st.st_size != (off_t)sizeof data || !S_ISREG(st.st_mode))
			check_failed("%s: size %jd", b, (intmax_t)st.st_size);
	}
	emit("stat", now() - t, nfiles, 0);

	t = now();
	for (uint64_t i = 0; i < nfiles; i++) {
		FNAME(b, "r", i);
		m_unlink(b);
	}
	emit("unlink", now() - t, nfiles, 0);

	t = now();
	for (unsigned d = 0; d < ndirs; d++) {
		snprintf(a, sizeof a, "md/d%03u", d);
		m_rmdir(a);
	}
	m_rmdir("md");
	emit("rmdir", now() - t, ndirs + 1, 0);
	emit("total", now() - t0, 4 * nfiles + 2 * (ndirs + 1), nfiles * sizeof data);
#undef FNAME
}

/* fsync-heavy: a database log, append 200 bytes + fdatasync, 5000 times; then a
 * synchronous log (O_DSYNC), 2000 appends of 200 bytes. */
#define LOG_REC 200

static void log_expect(void *buf, size_t len, uint64_t block, void *ctx)
{
	(void)ctx;
	fill_pattern(buf, len, 700, 0);
	memcpy(buf, &block, sizeof block);
}

static void wl_fsync(void)
{
	uint64_t n = scaled(5000, 10);
	unsigned char rec[LOG_REC];
	struct mfile f;
	double t;

	fill_pattern(rec, sizeof rec, 700, 0);
	m_open(&f, "log.dat", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	t = now();
	for (uint64_t i = 0; i < n; i++) {
		memcpy(rec, &i, sizeof i);
		m_write(&f, rec, sizeof rec);
		m_fdatasync(&f);
	}
	emit("append_200b_fdatasync", now() - t, n, n * LOG_REC);
	m_close(&f);
	verify_file("log.dat", n * LOG_REC, LOG_REC, log_expect, NULL);

	/* A synchronous log: each append is on the device when write returns. */
	n = scaled(2000, 10);
	m_open(&f, "synclog.dat", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_DSYNC, 0644);
	t = now();
	for (uint64_t i = 0; i < n; i++) {
		memcpy(rec, &i, sizeof i);
		m_write(&f, rec, sizeof rec);
	}
	emit("append_200b_dsync", now() - t, n, n * LOG_REC);
	m_close(&f);
	verify_file("synclog.dat", n * LOG_REC, LOG_REC, log_expect, NULL);
}

/*
 * Concurrency: 8 threads each writing 4 KiB blocks to its own file; then 8
 * threads appending 128-byte records to one shared O_APPEND fd.  Records are
 * self-describing (thread, sequence, checksum) so torn or lost appends show.
 * In ideal mode an append is one critical section (write A, write B) so both
 * members get the records in the same order.
 */
#define NTHREADS 8
#define REC 128

struct thr {
	int id;
	uint64_t n;
	struct mfile *shared;
	pthread_barrier_t *bar;
};

static pthread_mutex_t g_append_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rec_sum(const unsigned char *r)
{
	uint64_t s = 1469598103934665603ULL;
	for (int i = 0; i < REC - 8; i++)
		s = (s ^ r[i]) * 1099511628211ULL;
	return s;
}

static void make_rec(unsigned char *r, uint32_t thread, uint64_t seq)
{
	uint64_t s;
	memset(r, 'a' + (int)thread, REC);
	memcpy(r, "REC!", 4);
	memcpy(r + 4, &thread, 4);
	memcpy(r + 8, &seq, 8);
	s = rec_sum(r);
	memcpy(r + REC - 8, &s, 8);
}

static void *own_thread(void *arg)
{
	struct thr *th = arg;
	unsigned char buf[BLK];
	struct mfile f;
	char name[64];
	snprintf(name, sizeof name, "own%d.dat", th->id);
	m_open(&f, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fill_pattern(buf, BLK, 800, (uint64_t)th->id);
	pthread_barrier_wait(th->bar);
	for (uint64_t i = 0; i < th->n; i++) {
		memcpy(buf, &i, sizeof i);
		m_write(&f, buf, BLK);
	}
	m_close(&f);
	return NULL;
}

static void *append_thread(void *arg)
{
	struct thr *th = arg;
	unsigned char r[REC];
	int ideal = g_mode == MODE_IDEAL;
	pthread_barrier_wait(th->bar);
	for (uint64_t i = 0; i < th->n; i++) {
		make_rec(r, (uint32_t)th->id, i);
		if (ideal)
			pthread_mutex_lock(&g_append_lock);
		m_write(th->shared, r, REC);
		if (ideal)
			pthread_mutex_unlock(&g_append_lock);
	}
	return NULL;
}

static void own_expect(void *buf, size_t len, uint64_t block, void *ctx)
{
	fill_pattern(buf, len, 800, (uint64_t)*(int *)ctx);
	memcpy(buf, &block, sizeof block);
}

static double run_threads(void *(*fn)(void *), struct thr *th)
{
	pthread_t tid[NTHREADS];
	pthread_barrier_t bar;
	double t;
	pthread_barrier_init(&bar, NULL, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++) {
		th[i].bar = &bar;
		if (pthread_create(&tid[i], NULL, fn, &th[i]) != 0)
			die("pthread_create");
	}
	t = now();
	pthread_barrier_wait(&bar);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	t = now() - t;
	pthread_barrier_destroy(&bar);
	return t;
}

static void wl_concurrency(void)
{
	uint64_t n_own = scaled(4096, 16), n_app = scaled(8192, 16);
	struct thr th[NTHREADS];
	struct mfile shared;
	uint64_t next[NTHREADS] = { 0 };
	unsigned char r[REC];
	double t;

	for (int i = 0; i < NTHREADS; i++)
		th[i] = (struct thr){ .id = i, .n = n_own };
	t = run_threads(own_thread, th);
	emit("own_files_8x4k", t, NTHREADS * n_own, NTHREADS * n_own * BLK);

	m_open(&shared, "append.dat", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	for (int i = 0; i < NTHREADS; i++)
		th[i] = (struct thr){ .id = i, .n = n_app, .shared = &shared };
	t = run_threads(append_thread, th);
	emit("shared_append_8x128b", t, NTHREADS * n_app, NTHREADS * n_app * REC);
	m_close(&shared);

	for (int i = 0; i < NTHREADS; i++) {
		char name[64];
		snprintf(name, sizeof name, "own%d.dat", i);
		verify_file(name, n_own * BLK, BLK, own_expect, &i);
	}

	/* Every record intact, each thread's records all there and in order. */
	struct mfile f;
	uint64_t total = 0;
	ssize_t got;
	m_open(&f, "append.dat", O_RDONLY, 0);
	while ((got = m_read(&f, r, REC)) == REC) {
		uint32_t tid;
		uint64_t seq, sum;
		memcpy(&tid, r + 4, 4);
		memcpy(&seq, r + 8, 8);
		memcpy(&sum, r + REC - 8, 8);
		if (memcmp(r, "REC!", 4) != 0 || tid >= NTHREADS || sum != rec_sum(r))
			check_failed("append.dat: torn record at offset %" PRIu64, total * REC);
		if (seq != next[tid])
			check_failed("append.dat: thread %u record %" PRIu64 " where %" PRIu64
				     " expected", tid, seq, next[tid]);
		next[tid]++;
		total++;
	}
	if (got != 0)
		check_failed("append.dat: trailing partial record (%zd bytes)", got);
	if (total != NTHREADS * n_app)
		check_failed("append.dat: %" PRIu64 " records, expected %" PRIu64,
			     total, NTHREADS * n_app);
	m_close(&f);
}

/*
 * Memory: VmRSS after the first shadowed calls (shim initialised), and again
 * with N files created and held open read-write (16 bytes written to each).
 */
/*
 * Raise the open-file limit towards want; returns the limit obtained.  Without
 * CAP_SYS_RESOURCE only the soft limit can move, up to the hard one.
 */
static uint64_t raise_nofile(uint64_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit");
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	struct rlimit up = { want, rl.rlim_max > want ? rl.rlim_max : want };
	if (setrlimit(RLIMIT_NOFILE, &up) == 0)
		return want;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit");
	return rl.rlim_cur;
}

static void wl_memory(void)
{
	const unsigned ndirs = 100;
	uint64_t nfiles = scaled(10000, ndirs);
	uint64_t limit = raise_nofile(2 * nfiles + 64);
	struct mfile *files;
	char name[256];
	uint64_t rss0, rss1;
	double t;

	/*
	 * ideal mode, and a shim that keeps a second fd per file, need 2 fds per
	 * file: if the limit cannot be raised that far, every mode opens fewer
	 * files (the same number, so the modes stay comparable).
	 */
	if (2 * nfiles + 64 > limit) {
		nfiles = (limit - 64) / 2;
		fprintf(stderr, "bench memory: open-file limit %" PRIu64 ", so %" PRIu64
			" files (2 fds each)\n", limit, nfiles);
	}
	files = xmalloc(nfiles * sizeof *files);
	m_mkdir("mem");
	for (unsigned d = 0; d < ndirs; d++) {
		snprintf(name, sizeof name, "mem/d%03u", d);
		m_mkdir(name);
	}
	rss0 = vm_rss_bytes();
	emit_rss("rss_baseline", rss0, 0);

	t = now();
	for (uint64_t i = 0; i < nfiles; i++) {
		snprintf(name, sizeof name, "mem/d%03u/f%06" PRIu64, (unsigned)(i % ndirs), i);
		m_open(&files[i], name, O_RDWR | O_CREAT | O_TRUNC, 0644);
		m_write(&files[i], "0123456789abcdef", 16);
	}
	emit("open_create_16b", now() - t, nfiles, nfiles * 16);
	rss1 = vm_rss_bytes();
	emit_rss("rss_open", rss1, nfiles);

	for (uint64_t i = 0; i < nfiles; i++)
		m_close(&files[i]);
	free(files);
}

/*
 * Scale: the same number of 512 B writes (64 Ki in a full run) made by 1 and by
 * 64 threads (each on its own file), through 1 and 10,000 open files (round
 * robin), and by 1 and 100 processes (each on its own file, started before the
 * clock and released together).  Each phase reports the whole time, so per
 * write cost = seconds / ops; run.py sets each N-phase against its 1-phase.
 */
#define SCALE_BS 512

struct scale_thr {
	int id;
	uint64_t n;
	pthread_barrier_t *bar;
};

static void scale_writes(const char *rel, int id, uint64_t n)
{
	unsigned char buf[SCALE_BS];
	struct mfile f;
	m_open(&f, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fill_pattern(buf, sizeof buf, 1000, (uint64_t)id);
	for (uint64_t i = 0; i < n; i++)
		m_write(&f, buf, sizeof buf);
	m_close(&f);
}

static void *scale_thread(void *arg)
{
	struct scale_thr *th = arg;
	char rel[64];
	snprintf(rel, sizeof rel, "scale/t%02d", th->id);
	pthread_barrier_wait(th->bar);
	scale_writes(rel, th->id, th->n);
	return NULL;
}

static double scale_threads(int nthreads, uint64_t total)
{
	pthread_t *tid = xmalloc(sizeof *tid * (size_t)nthreads);
	struct scale_thr *th = xmalloc(sizeof *th * (size_t)nthreads);
	pthread_barrier_t bar;
	double t;
	pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		th[i] = (struct scale_thr){ .id = i, .n = total / (uint64_t)nthreads, .bar = &bar };
		if (pthread_create(&tid[i], NULL, scale_thread, &th[i]) != 0)
			die("pthread_create");
	}
	t = now();
	pthread_barrier_wait(&bar);
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	t = now() - t;
	pthread_barrier_destroy(&bar);
	free(tid);
	free(th);
	return t;
}

static double scale_files(uint64_t nfiles, uint64_t total)
{
	struct mfile *files = xmalloc(nfiles * sizeof *files);
	unsigned char buf[SCALE_BS];
	char rel[64];
	double t;
	fill_pattern(buf, sizeof buf, 1001, nfiles);
	for (uint64_t i = 0; i < nfiles; i++) {
		snprintf(rel, sizeof rel, "scale/d%02u/f%05" PRIu64, (unsigned)(i % 100), i);
		m_open(&files[i], rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	}
	t = now();
	for (uint64_t i = 0; i < total; i++)
		m_write(&files[i % nfiles], buf, sizeof buf);
	t = now() - t;
	for (uint64_t i = 0; i < nfiles; i++)
		m_close(&files[i]);
	free(files);
	return t;
}

static double scale_procs(int nprocs, uint64_t total)
{
	int ready[2], go[2], status;
	double t;
	char c;
	if (pipe(ready) != 0 || pipe(go) != 0)
		die("pipe");
	fflush(stdout);
	for (int i = 0; i < nprocs; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			char rel[64];
			close(go[1]);
			snprintf(rel, sizeof rel, "scale/p%03d", i);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 0)
				_exit(2);
			scale_writes(rel, 100 + i, total / (uint64_t)nprocs);
			exit(0);
		}
	}
	close(ready[1]);
	for (int i = 0; i < nprocs; i++)
		if (read(ready[0], &c, 1) != 1)
			die("a scale process did not start");
	t = now();
	close(go[1]);
	for (int i = 0; i < nprocs; i++) {
		if (wait(&status) < 0)
			die("wait");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("a scale process failed (status %d)", status);
	}
	t = now() - t;
	close(ready[0]);
	close(go[0]);
	return t;
}

static void wl_scale(void)
{
	uint64_t total = scaled(65536, 6400), nfiles = 10000;
	char rel[64];
	uint64_t limit = raise_nofile(2 * nfiles + 64);
	if (2 * nfiles + 64 > limit) {
		nfiles = (limit - 64) / 2;
		fprintf(stderr, "bench scale: open-file limit %" PRIu64 ", so %" PRIu64 " files\n",
			limit, nfiles);
	}
	m_mkdir("scale");
	for (unsigned d = 0; d < 100; d++) {
		snprintf(rel, sizeof rel, "scale/d%02u", d);
		m_mkdir(rel);
	}
	emit("threads_1", scale_threads(1, total), total, total * SCALE_BS);
	emit("threads_64", scale_threads(64, total), total, total * SCALE_BS);
	emit("files_1", scale_files(1, total), total, total * SCALE_BS);
	snprintf(rel, sizeof rel, "files_%" PRIu64, nfiles);
	emit(rel, scale_files(nfiles, total), total, total * SCALE_BS);
	emit("procs_1", scale_procs(1, total), total, total * SCALE_BS);
	emit("procs_100", scale_procs(100, total), total, total * SCALE_BS);
}

/*
 * exec: process start, the price a build or a configure script pays per
 * command. posix_spawn (glibc's vfork-like clone, as make and Python's
 * subprocess start commands) and fork + exec (as a shell does) of /bin/true,
 * from a working directory in DIR; each waited for. The ideal mirror starts
 * processes as natively: nothing to mirror.
 */
extern char **environ;

static void exec_wait(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		check_failed("/bin/true ended with status %#x", st);
}

static void wl_exec(void)
{
	uint64_t n = scaled(2000, 50);
	char *argv[] = { "true", NULL };
	double t;

	m_mkdir("exec");
	if (chdir(g_dir[0]) != 0 || chdir("exec") != 0)
		die("chdir %s/exec", g_dir[0]);
	t = now();
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid;
		int e = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
		if (e != 0) {
			errno = e;
			die("posix_spawn");
		}
		exec_wait(pid);
	}
	emit("posix_spawn", now() - t, n, 0);
	t = now();
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execv("/bin/true", argv);
			_exit(127);
		}
		exec_wait(pid);
	}
	emit("fork_exec", now() - t, n, 0);
}

/* ------------------------------------------------------ resync helpers */

/*
 * tree: build or change a tree of 4 KiB files from a list of operations on
 * stdin (run.py's resync.py computes the list and checks the result).  A
 * file's first 24 bytes are "TREEFILE", its index and its generation (both
 * little-endian u64); the rest is pattern(900, index ^ gen << 32).
 */
#define TREE_FILE 4096

static void wl_tree(void)
{
	char line[4352], rel[4096];
	unsigned char buf[TREE_FILE];
	uint64_t files = 0, dirs = 0, unlinks = 0, idx, gen;
	double t = now();

	while (fgets(line, sizeof line, stdin)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (!n)
			continue;
		if (line[0] == 'm' && sscanf(line, "m %4095s", rel) == 1) {
			m_mkdir(rel);
			dirs++;
		} else if (line[0] == 'u' && sscanf(line, "u %4095s", rel) == 1) {
			m_unlink(rel);
			unlinks++;
		} else if (line[0] == 'w' &&
			   sscanf(line, "w %" SCNu64 " %" SCNu64 " %4095s", &idx, &gen, rel) == 3) {
			struct mfile f;
			fill_pattern(buf, sizeof buf, 900, idx ^ (gen << 32));
			memcpy(buf, "TREEFILE", 8);
			memcpy(buf + 8, &idx, 8);
			memcpy(buf + 16, &gen, 8);
			m_open(&f, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			m_write(&f, buf, sizeof buf);
			m_close(&f);
			files++;
		} else {
			errno = EINVAL;
			die("tree: bad operation line %.80s", line);
		}
	}
	printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"phase\":\"tree\",\"seconds\":%.9f,"
	       "\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"unlinks\":%" PRIu64
	       ",\"bytes\":%" PRIu64 "}\n",
	       g_workload, g_mode_name, now() - t, files, dirs, unlinks, files * TREE_FILE);
	fflush(stdout);
}

/*
 * stallwriter: a writer that must not be stalled.  Appends 64-byte records
 * ("STALLREC", sequence number, CLOCK_MONOTONIC ns, pattern, FNV checksum of
 * the first 56 bytes) to --file with O_APPEND, pausing --sleep-us between
 * writes, and times the gap between the starts of consecutive write() calls
 * (so a gap is one write plus one pause, or a stall).  Prints a "ready" line
 * after the first write, and on SIGTERM/SIGINT or after --seconds one line
 * with the count and the gap statistics (median, p99, p99.9, max; the longest
 * single write(); the 5 longest gaps with their start, CLOCK_MONOTONIC s).
 * With --gaps-out PATH (a plain path) every gap is also written there as a
 * pair of little-endian u64 (start ns, gap ns), for statistics over a window.
 */
#define STALL_REC 64
#define STALL_TOP 5

static volatile sig_atomic_t g_stop;
static const char *g_gaps_out;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv64(const unsigned char *p, size_t n)
{
	uint64_t s = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		s = (s ^ p[i]) * 1099511628211ULL;
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_s(const uint64_t *sorted, uint64_t n, double q)
{
	if (!n)
		return 0;
	return (double)sorted[(uint64_t)(q * (double)(n - 1) + 0.5)] * 1e-9;
}

static void wl_stallwriter(void)
{
	struct sigaction sa;
	struct mfile f;
	unsigned char rec[STALL_REC];
	/* (start, gap) pairs, allocated and touched up front so the loop does not fault */
	uint64_t cap = (uint64_t)(g_seconds * 1e6 / (double)(g_sleep_us + 20)) + 1024;
	uint64_t n = 0, seq = 0, prev = 0, max_write = 0, t0, deadline, sum, *sorted;
	uint64_t *gaps;
	struct timespec pause = { g_sleep_us / 1000000, (g_sleep_us % 1000000) * 1000 };

	if (cap > (1u << 24))
		cap = 1u << 24;
	gaps = xmalloc(cap * 2 * sizeof *gaps);
	memset(gaps, 0, cap * 2 * sizeof *gaps);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fill_pattern(rec, sizeof rec, 950, 0);
	memcpy(rec, "STALLREC", 8);
	m_open(&f, g_file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	t0 = now_ns();
	deadline = t0 + (uint64_t)(g_seconds * 1e9);
	while (!g_stop) {
		uint64_t t = now_ns();
		if (t >= deadline)
			break;
		if (seq) {
			if (n == cap) {
				cap *= 2;
				gaps = realloc(gaps, cap * 2 * sizeof *gaps);
				if (!gaps)
					die("realloc");
			}
			gaps[2 * n] = prev;
			gaps[2 * n + 1] = t - prev;
			n++;
		}
		prev = t;
		memcpy(rec + 8, &seq, 8);
		memcpy(rec + 16, &t, 8);
		sum = fnv64(rec, STALL_REC - 8);
		memcpy(rec + STALL_REC - 8, &sum, 8);
		m_write(&f, rec, sizeof rec);
		t = now_ns() - t;
		if (t > max_write)
			max_write = t;
		if (seq++ == 0) {
			printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"phase\":\"ready\"}\n",
			       g_workload, g_mode_name);
			fflush(stdout);
		}
		if (g_sleep_us > 0)
			nanosleep(&pause, NULL); /* EINTR on SIGTERM: fine */
	}
	m_close(&f);
	uint64_t elapsed = now_ns() - t0;

	if (g_gaps_out) {
		FILE *o = fopen(g_gaps_out, "wb");
		if (!o || fwrite(gaps, 2 * sizeof *gaps, n, o) != n || fclose(o) != 0)
			die("writing %s", g_gaps_out);
	}
	/* the 5 longest gaps, then the percentiles */
	uint64_t top[STALL_TOP] = { 0 }, top_at[STALL_TOP] = { 0 };
	for (uint64_t i = 0; i < n; i++) {
		uint64_t g = gaps[2 * i + 1];
		if (g <= top[STALL_TOP - 1])
			continue;
		int k = STALL_TOP - 1;
		for (; k > 0 && top[k - 1] < g; k--) {
			top[k] = top[k - 1];
			top_at[k] = top_at[k - 1];
		}
		top[k] = g;
		top_at[k] = gaps[2 * i];
	}
	sorted = xmalloc((n + 1) * sizeof *sorted);
	for (uint64_t i = 0; i < n; i++)
		sorted[i] = gaps[2 * i + 1];
	qsort(sorted, n, sizeof *sorted, cmp_u64);
	printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"phase\":\"gaps\",\"file\":\"%s\","
	       "\"seconds\":%.6f,\"records\":%" PRIu64 ",\"record_bytes\":%d,\"gaps\":%" PRIu64
	       ",\"sleep_us\":%ld,\"median_gap_s\":%.9f,\"p99_gap_s\":%.9f,\"p999_gap_s\":%.9f,"
	       "\"max_gap_s\":%.9f,\"max_write_s\":%.9f,\"top\":[",
	       g_workload, g_mode_name, g_file, (double)elapsed * 1e-9, seq, STALL_REC, n,
	       g_sleep_us, pct_s(sorted, n, 0.5), pct_s(sorted, n, 0.99), pct_s(sorted, n, 0.999),
	       n ? (double)sorted[n - 1] * 1e-9 : 0.0, (double)max_write * 1e-9);
	for (int k = 0; k < STALL_TOP && top[k]; k++)
		printf("%s[%.9f,%.9f]", k ? "," : "", (double)top_at[k] * 1e-9,
		       (double)top[k] * 1e-9);
	printf("]}\n");
	fflush(stdout);
	free(sorted);
	free(gaps);
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	void (*fn)(void);
} workloads[] = {
	{ "disktester", wl_disktester },
	{ "disktester_sync", wl_disktester_sync },
	{ "bigfile", wl_bigfile },
	{ "interpose", wl_interpose },
	{ "stream", wl_stream },
	{ "randwrite", wl_randwrite },
	{ "read", wl_read },
	{ "metadata", wl_metadata },
	{ "fsync", wl_fsync },
	{ "concurrency", wl_concurrency },
	{ "memory", wl_memory },
	{ "scale", wl_scale },
	{ "exec", wl_exec },
	{ "tree", wl_tree },
	{ "stallwriter", wl_stallwriter },
};

static void usage(void)
{
	fprintf(stderr,
		"usage: bench WORKLOAD MODE DIR [DIR2] [--scale F] [--aux DIR] [--seed N]\n"
		"             [--file REL] [--seconds S] [--sleep-us N] [--gaps-out PATH]  (stallwriter)\n"
		"  MODE: native | shadowed | ideal (ideal needs DIR2, the secondary)\n"
		"  WORKLOAD:");
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		fprintf(stderr, " %s", workloads[i].name);
	fputc('\n', stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pos[4];
	int npos = 0;
	void (*fn)(void) = NULL;

	g_workload = "?";
	g_mode_name = "?";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
			g_scale = strtod(argv[++i], NULL);
			if (!(g_scale > 0))
				usage();
		} else if (strcmp(argv[i], "--aux") == 0 && i + 1 < argc) {
			g_aux = argv[++i];
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			g_seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
			g_file = argv[++i];
		} else if (strcmp(argv[i], "--gaps-out") == 0 && i + 1 < argc) {
			g_gaps_out = argv[++i];
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			g_seconds = strtod(argv[++i], NULL);
			if (!(g_seconds > 0))
				usage();
		} else if (strcmp(argv[i], "--sleep-us") == 0 && i + 1 < argc) {
			g_sleep_us = strtol(argv[++i], NULL, 10);
			if (g_sleep_us < 0)
				usage();
		} else if (argv[i][0] == '-' || npos == 4) {
			usage();
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (npos < 3)
		usage();
	g_workload = pos[0];
	g_mode_name = pos[1];
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		if (strcmp(workloads[i].name, g_workload) == 0)
			fn = workloads[i].fn;
	if (!fn)
		usage();
	if (strcmp(g_mode_name, "native") == 0)
		g_mode = MODE_NATIVE;
	else if (strcmp(g_mode_name, "shadowed") == 0)
		g_mode = MODE_SHADOWED;
	else if (strcmp(g_mode_name, "ideal") == 0)
		g_mode = MODE_IDEAL;
	else
		usage();
	g_dir[0] = pos[2];
	g_dir[1] = npos > 3 ? pos[3] : NULL;
	if ((g_mode == MODE_IDEAL) != (npos == 4))
		usage();
	fn();
	return 0;
}
