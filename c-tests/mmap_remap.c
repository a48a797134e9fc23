// mmap_remap: a shared writable mapping of a shadowed file grown by mremap (after the file
// grew) is copied to the follower as far as it now reaches, and one replaced by a MAP_FIXED
// mapping is copied before it goes. Before, the grown part and the replaced mapping's
// pages reached the primary alone, unreported.
#define _GNU_SOURCE
#include "check.h"

#include <sys/mman.h>

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/grown", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(fd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	m[0] = 'a';
	CHECK_SYS(ftruncate(fd, 8192));
	m = mremap(m, 4096, 8192, MREMAP_MAYMOVE);
	CHECK(m != MAP_FAILED);
	m[4096] = 'b';
	CHECK_SYS(munmap(m, 8192));
	CHECK_SYS(close(fd));

	fd = CHECK_SYS(open(SHADOW "/replaced", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_SYS(ftruncate(fd, 4096));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	m[0] = 'c';
	CHECK(mmap(m, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == m);
	CHECK_SYS(close(fd));

	char want[8192] = { 0 };
	want[0] = 'a';
	want[4096] = 'b';
	EXPECT_FILE_BYTES(member_path("secondary", SHADOW "/grown"), want, 8192);
	want[0] = 'c';
	EXPECT_FILE_BYTES(member_path("secondary", SHADOW "/replaced"), want, 4096);
	return 0;
}
