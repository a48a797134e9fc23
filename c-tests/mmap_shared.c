// mmap_shared: write through a MAP_SHARED mapping of a shadowed file, msync, munmap.
// The members must end identical (the shim mirrors mapped writes), also when the
// program exits with the mapping still in place.
#include "check.h"

#include <sys/mman.h>

/* Maps len bytes of a fresh shadowed file and returns the mapping. */
static char *map_new(const char *path, size_t len, int *fdp)
{
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));

	CHECK_SYS(ftruncate(fd, (off_t)len));
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	*fdp = fd;
	return m;
}

static void fill(char *m, size_t len)
{
	memset(m, '.', len);
	memcpy(m, "mapped head", 11);
	memcpy(m + 5000, "mapped middle", 13);
}

int main(void)
{
	const size_t len = 8192;
	char want[8192];
	int fd;

	fill(want, len);
	memcpy(want + len - 4, "END\n", 4);

	/* write, msync, write more, munmap, close. */
	char *m = map_new(SHADOW "/mapped", len, &fd);
	fill(m, len);
	CHECK_SYS(msync(m, len, MS_SYNC));
	memcpy(m + len - 4, "END\n", 4);
	CHECK_SYS(munmap(m, len));
	CHECK_SYS(close(fd));
	EXPECT_FILE_BYTES(SHADOW "/mapped", want, len);

	/* The fd is closed right after mmap (a common pattern); writes come later. */
	m = map_new(SHADOW "/mapped-closed-fd", len, &fd);
	CHECK_SYS(close(fd));
	fill(m, len);
	memcpy(m + len - 4, "END\n", 4);
	CHECK_SYS(msync(m, len, MS_SYNC));
	CHECK_SYS(munmap(m, len));
	EXPECT_FILE_BYTES(SHADOW "/mapped-closed-fd", want, len);

	/* Neither msync nor munmap: the mapping is still dirty when main returns,
	 * and shadowctl verify (run after exit) must find the members identical. */
	m = map_new(SHADOW "/mapped-at-exit", len, &fd);
	CHECK_SYS(close(fd));
	fill(m, len);
	EXPECT_FILE_BYTES(SHADOW "/mapped-at-exit", m, len);
	return 0;
}
