// by_handle: a file opened by its handle (name_to_handle_at, then open_by_handle_at, as NFS
// servers and fanotify tools do) and written through that fd reaches both members. Before,
// the kernel's open was unseen and the bytes reached the primary alone, unreported. Needs
// CAP_DAC_READ_SEARCH (CI runs as root) and a file system that gives handles.
#include "check.h"

#include <sys/syscall.h>

int main(void)
{
	write_file(SHADOW "/f", "abc");
	struct { struct file_handle h; unsigned char bytes[128]; } fh = { .h.handle_bytes = 128 };
	int mount_id;
	CHECK_SYS(name_to_handle_at(AT_FDCWD, SHADOW "/f", &fh.h, &mount_id, 0));
	int mount_fd = CHECK_SYS(open(SHADOW, O_RDONLY | O_DIRECTORY));
	int fd = open_by_handle_at(mount_fd, &fh.h, O_WRONLY | O_APPEND);
	if (fd < 0)
		check_fail(HERE, errno, "open_by_handle_at cannot run here (needs CAP_DAC_READ_SEARCH and handles)");
	write_str(fd, "def");
	CHECK_SYS(close(fd));
	fd = CHECK_SYS(syscall(SYS_open_by_handle_at, mount_fd, &fh.h, O_WRONLY | O_APPEND));
	write_str(fd, "ghi");
	CHECK_SYS(close(fd));
	CHECK_SYS(close(mount_fd));
	EXPECT_FILE(SHADOW "/f", "abcdefghi");
	EXPECT_FILE(member_path("secondary", SHADOW "/f"), "abcdefghi");
	return 0;
}
