// mmap_ranges: the part of a shared mapping that munmap, a MAP_FIXED mapping or a
// shrinking mremap takes away stops being copied to the secondary, and what it held is
// copied before it goes; a mapping made writable by mprotect is copied like one mapped
// writable. Before: after a partial munmap the whole former range went on being copied at
// exit, from whatever the process mapped there next (another file's pages, its heap) into
// the file's secondary; a shrink lost the dropped pages' writes; writes through a mapping
// made writable later reached the primary alone.
#include "check.h"

#include <sys/mman.h>

#define P 4096

static void fill_file(const char *path, size_t len)
{
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(fd, (off_t)len));
	CHECK_SYS(close(fd));
}

static char *map(const char *path, size_t len, int prot, int *fdp)
{
	int fd = CHECK_SYS(open(path, O_RDWR));
	char *m = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	if (fdp)
		*fdp = fd;
	else
		CHECK_SYS(close(fd));
	return m;
}

/* Each case runs in a child that exits with its mappings in place (copied at exit). */
static void partial_munmap_then_reuse(void)
{
	char *m = map(SHADOW "/a", 3 * P, PROT_READ | PROT_WRITE, NULL);
	memset(m, 'A', 3 * P);
	CHECK_SYS(munmap(m + P, P));
	m[2 * P] = 'Z';
	int fb;
	char *b = mmap(m + P, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, (fb = CHECK_SYS(open(SHADOW "/b", O_RDWR))), 0);
	CHECK(b == m + P);
	memset(b, 'B', P);
	CHECK_SYS(munmap(b, P));
	CHECK_SYS(close(fb));
	char *h = mmap(m + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(h == m + P);
	memcpy(h, "heap data of the program", 24);
}

static void map_fixed_over_one_page(void)
{
	char *m = map(SHADOW "/c", 2 * P, PROT_READ | PROT_WRITE, NULL);
	memset(m, 'C', 2 * P);
	char *h = mmap(m + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(h == m + P);
	memset(h, 'h', P);
	CHECK_SYS(munmap(m, 2 * P));
}

static void mremap_shrink(void)
{
	char *m = map(SHADOW "/d", 4 * P, PROT_READ | PROT_WRITE, NULL);
	memset(m, 'D', 4 * P);
	char *n = mremap(m, 4 * P, P, 0);
	CHECK(n != MAP_FAILED);
	n[0] = 'd';
}

static void mprotect_to_writable(void)
{
	char *m = map(SHADOW "/e", 2 * P, PROT_READ, NULL);
	CHECK_SYS(mprotect(m, 2 * P, PROT_READ | PROT_WRITE));
	memset(m, 'E', 2 * P);
	CHECK_SYS(msync(m, 2 * P, MS_SYNC));
	m[0] = 'e'; /* after the msync: copied at exit */
}

static void mremap_dontunmap(void)
{
	char *m = map(SHADOW "/g", 2 * P, PROT_READ | PROT_WRITE, NULL);
	memset(m, 'G', 2 * P);
	char *n = mremap(m, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (n == MAP_FAILED && errno == EINVAL) {
		/* A kernel without MREMAP_DONTUNMAP for shared mappings (before 5.13). */
		fprintf(stderr, "*** mmap_ranges: MREMAP_DONTUNMAP refused here; not checked ***\n");
		memset(m, 'g', 2);
		return;
	}
	CHECK(n != MAP_FAILED);
	CHECK_SYS(munmap(n, 2 * P));
	/* The old range is still the file's: written through it after the move. */
	m[0] = 'g';
	m[1] = 'g';
}

static void in_child(void (*body)(void))
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		body();
		exit(0);
	}
	wait_ok(pid);
}

static void expect_pages(const char *vpath, const char *pages)
{
	size_t n = strlen(pages);
	char *want = malloc(n * P);
	for (size_t i = 0; i < n; i++)
		memset(want + i * P, pages[i] == '0' ? 0 : pages[i], P);
	EXPECT_FILE_BYTES(member_path("primary", vpath), want, n * P);
	EXPECT_FILE_BYTES(member_path("secondary", vpath), want, n * P);
	free(want);
}

int main(void)
{
	fill_file(SHADOW "/a", 3 * P);
	fill_file(SHADOW "/b", P);
	fill_file(SHADOW "/c", 2 * P);
	fill_file(SHADOW "/d", 4 * P);
	fill_file(SHADOW "/e", 2 * P);
	fill_file(SHADOW "/g", 2 * P);

	in_child(partial_munmap_then_reuse);
	char *a = read_whole_file(member_path("secondary", SHADOW "/a"), NULL);
	CHECK(a[P] == 'A' && a[2 * P] == 'Z');
	free(a);
	expect_pages(SHADOW "/b", "B");

	in_child(map_fixed_over_one_page);
	expect_pages(SHADOW "/c", "CC");

	in_child(mremap_shrink);
	char *d = read_whole_file(member_path("secondary", SHADOW "/d"), NULL);
	CHECK(d[0] == 'd' && d[P] == 'D' && d[4 * P - 1] == 'D');
	free(d);

	in_child(mprotect_to_writable);
	char *e = read_whole_file(member_path("secondary", SHADOW "/e"), NULL);
	CHECK(e[0] == 'e' && e[1] == 'E' && e[2 * P - 1] == 'E');
	free(e);

	in_child(mremap_dontunmap);
	char *g = read_whole_file(member_path("secondary", SHADOW "/g"), NULL);
	CHECK(g[0] == 'g' && g[1] == 'g' && g[2] == 'G');
	free(g);
	return 0;
}
