/* writeback.h - whether a file's newest bytes are on disk yet, told by the file system:
 * ext4 (and xfs, btrfs) keep freshly written blocks unallocated until writeback, and
 * FIEMAP marks such extents FIEMAP_EXTENT_DELALLOC. A flush of the file allocates them. */
#ifndef LIBSHADOW_WRITEBACK_H
#define LIBSHADOW_WRITEBACK_H

#include "../check.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

/* Whether `path` has bytes the kernel has not written to disk yet. Ends the test, saying
 * why, where the file system cannot tell (no FIEMAP). */
static inline int awaits_writeback(const char *path)
{
	struct {
		struct fiemap map;
		struct fiemap_extent extents[64];
	} m;
	int fd = CHECK_SYS(open(path, O_RDONLY));
	memset(&m, 0, sizeof m);
	m.map.fm_length = ~0ULL;
	m.map.fm_extent_count = 64;
	if (ioctl(fd, FS_IOC_FIEMAP, &m.map) != 0) {
		fprintf(stderr, "%s: FIEMAP: %s: this test needs a file system that reports delayed allocation (ext4, xfs, btrfs)\n", path, strerror(errno));
		exit(1);
	}
	CHECK_SYS(close(fd));
	for (unsigned i = 0; i < m.map.fm_mapped_extents; i++)
		if (m.extents[i].fe_flags & FIEMAP_EXTENT_DELALLOC)
			return 1;
	return 0;
}

#endif
