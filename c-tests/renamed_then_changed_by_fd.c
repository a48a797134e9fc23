// renamed_then_changed_by_fd: a file opened read-only or O_PATH, renamed by the same
// process, then changed through its fd (fchmod, fsetxattr) or through /proc/self/fd/N
// (chmod, setxattr, utimes): the follower's twin, renamed alike, is changed by the name the
// kernel gives the file now. Before, each change reached the primary alone, reported
// (00020 "no longer at the name it was opened by"): Samba sets user.DOSATTRIB and the times
// this way after every SMB rename (found by a helper's hunt).
#include "check.h"

#include <sys/time.h>
#include <sys/xattr.h>

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/a", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "x");
	CHECK_SYS(close(fd));
	CHECK_SYS(mkdir(SHADOW "/d", 0755));

	int path_fd = CHECK_SYS(open(SHADOW "/a", O_RDONLY | O_PATH | O_NOFOLLOW));
	int ro_fd = CHECK_SYS(open(SHADOW "/a", O_RDONLY));
	CHECK_SYS(rename(SHADOW "/a", SHADOW "/d/b"));

	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", path_fd);
	CHECK_SYS(setxattr(link, "user.DOSATTRIB", "new", 3, 0));
	CHECK_SYS(chmod(link, 0600));
	struct timeval tv[2] = { { 1000, 0 }, { 2000, 0 } };
	CHECK_SYS(utimes(link, tv));
	CHECK_SYS(fsetxattr(ro_fd, "user.other", "v", 1, 0));
	CHECK_SYS(fchmod(ro_fd, 0640));
	CHECK_SYS(close(path_fd));
	CHECK_SYS(close(ro_fd));

	for (int m = 0; m < 2; m++) {
		const char *member = m ? "secondary" : "primary";
		char *p = member_path(member, SHADOW "/d/b");
		struct stat st = xstat(p);
		CHECK((st.st_mode & 07777) == 0640);
		CHECK(st.st_mtime == 2000);
		char v[8];
		CHECK(getxattr(p, "user.DOSATTRIB", v, sizeof v) == 3 && memcmp(v, "new", 3) == 0);
		CHECK(getxattr(p, "user.other", v, sizeof v) == 1 && v[0] == 'v');
		free(p);
	}
	return 0;
}
