// special_files: errors that FIFOs, sockets and device nodes give (ENXIO, ENODEV) are the
// object's answer, not a failed member: the program gets them as natively, and both
// members go on being written.
#include "check.h"

#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

int main(void)
{
	CHECK_SYS(mkfifo(SHADOW "/fifo", 0644));
	CHECK_ERR(open(SHADOW "/fifo", O_WRONLY | O_NONBLOCK), ENXIO);

	struct sockaddr_un un = { .sun_family = AF_UNIX };
	strcpy(un.sun_path, SHADOW "/sock");
	int s = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(bind(s, (struct sockaddr *)&un, sizeof un));
	CHECK_ERR(open(SHADOW "/sock", O_RDONLY), ENXIO);

	/* A character device whose driver does not exist. */
	CHECK_SYS(mknod(SHADOW "/nodev", S_IFCHR | 0600, makedev(240, 77)));
	errno = 0;
	CHECK(open(SHADOW "/nodev", O_RDWR) == -1 && (errno == ENXIO || errno == ENODEV));

	/* Both members are still written. */
	write_file(SHADOW "/after", "both members\n");
	EXPECT_FILE(member_path("primary", SHADOW "/after"), "both members\n");
	EXPECT_FILE(member_path("secondary", SHADOW "/after"), "both members\n");
	CHECK_SYS(unlink(SHADOW "/sock"));
	return 0;
}
