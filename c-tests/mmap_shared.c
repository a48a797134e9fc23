// mmap_shared: write through a MAP_SHARED mapping of a shadowed file, msync, munmap.
// The members must end identical (the shim mirrors mapped writes).
#include "check.h"

#include <sys/mman.h>

int main(void)
{
	const char *path = SHADOW "/mapped";
	const size_t len = 8192;
	int fd = CHECK_SYS(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));

	CHECK_SYS(ftruncate(fd, (off_t)len));
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memset(m, '.', len);
	memcpy(m, "mapped head", 11);
	memcpy(m + 5000, "mapped middle", 13);
	CHECK_SYS(msync(m, len, MS_SYNC));
	memcpy(m + len - 4, "END\n", 4);
	CHECK_SYS(munmap(m, len));
	CHECK_SYS(close(fd));

	char want[8192];
	memset(want, '.', len);
	memcpy(want, "mapped head", 11);
	memcpy(want + 5000, "mapped middle", 13);
	memcpy(want + len - 4, "END\n", 4);
	EXPECT_FILE_BYTES(path, want, len);
	return 0;
}
