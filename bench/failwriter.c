/*
 * failwriter — the writer of the failover rows (failover.py): appends RECORDS
 * fixed-size records to FILE (opened O_WRONLY|O_CREAT|O_TRUNC|O_APPEND, a path
 * under the shim's prefix) in a loop and times every write() with
 * clock_gettime(CLOCK_MONOTONIC).  A member that fills up under it fails in
 * the middle of the loop; the latency of that write is what the bench reports.
 *
 *   failwriter FILE RECORDS RECORD_BYTES LAT_OUT [SLEEP_US]
 *
 * Record i: "FAILREC\0", i (u64 little-endian), then a filler that depends on
 * i only, so a member's copy can be checked record by record.  LAT_OUT (a plain
 * path outside the prefix, written after the loop) gets one u64 per write: its
 * latency in ns.  stdout: one JSON line with the count, the median and the
 * longest write and its index.  Exit 0; 2 on a failed or short write (the
 * program must not notice a member failing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void fill(unsigned char *rec, size_t len, uint64_t i)
{
	uint64_t s = i * 0x9e3779b97f4a7c15ULL + 1;
	memset(rec, 0, len);
	memcpy(rec, "FAILREC", 8);
	memcpy(rec + 8, &i, 8);
	for (size_t k = 16; k + 8 <= len; k += 8) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(rec + k, &s, 8);
	}
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: failwriter FILE RECORDS RECORD_BYTES LAT_OUT [SLEEP_US]\n");
		return 2;
	}
	const char *file = argv[1], *lat_out = argv[4];
	uint64_t n = strtoull(argv[2], NULL, 10);
	size_t len = strtoull(argv[3], NULL, 10);
	long sleep_us = argc == 6 ? strtol(argv[5], NULL, 10) : 0;
	struct timespec pause = { sleep_us / 1000000, (sleep_us % 1000000) * 1000 };
	if (n == 0 || len < 16 || len % 8 || sleep_us < 0) {
		fprintf(stderr, "failwriter: RECORDS > 0, RECORD_BYTES >= 16 and a multiple of 8\n");
		return 2;
	}
	/* everything allocated and touched before the loop */
	uint64_t *lat = calloc(n, sizeof *lat), *sorted = calloc(n, sizeof *sorted);
	unsigned char *recs = malloc(2 * len);
	if (!lat || !sorted || !recs) {
		perror("failwriter: malloc");
		return 2;
	}
	fill(recs, len, 0);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0) {
		fprintf(stderr, "failwriter: open %s: %s\n", file, strerror(errno));
		return 2;
	}
	for (uint64_t i = 0; i < n; i++) {
		unsigned char *rec = recs + (i & 1) * len;
		uint64_t t = now_ns();
		ssize_t w = write(fd, rec, len);
		lat[i] = now_ns() - t;
		if (w != (ssize_t)len) {
			fprintf(stderr, "failwriter: write %" PRIu64 " of %s: %s\n", i, file,
				w < 0 ? strerror(errno) : "short write");
			return 2;
		}
		fill(recs + ((i + 1) & 1) * len, len, i + 1); /* the next record, outside the timing */
		if (sleep_us)
			nanosleep(&pause, NULL);
	}
	if (close(fd) != 0) {
		fprintf(stderr, "failwriter: close %s: %s\n", file, strerror(errno));
		return 2;
	}
	FILE *o = fopen(lat_out, "wb");
	if (!o || fwrite(lat, sizeof *lat, n, o) != n || fclose(o) != 0) {
		fprintf(stderr, "failwriter: writing %s: %s\n", lat_out, strerror(errno));
		return 2;
	}
	uint64_t imax = 0;
	for (uint64_t i = 0; i < n; i++) {
		sorted[i] = lat[i];
		if (lat[i] > lat[imax])
			imax = i;
	}
	qsort(sorted, n, sizeof *sorted, cmp_u64);
	printf("{\"records\":%" PRIu64 ",\"record_bytes\":%zu,\"median_ns\":%" PRIu64
	       ",\"max_ns\":%" PRIu64 ",\"max_index\":%" PRIu64 "}\n",
	       n, len, sorted[n / 2], lat[imax], imax);
	return 0;
}
