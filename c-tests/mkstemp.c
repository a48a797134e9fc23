// mkstemp: mkstemp/mkostemp/mkdtemp under /shadow pick one name for both members.
#include "check.h"

int main(void)
{
	char tmpl[] = SHADOW "/tmpXXXXXX";
	int fd = CHECK_SYS(mkstemp(tmpl));
	CHECK(strncmp(tmpl, SHADOW "/tmp", strlen(SHADOW "/tmp")) == 0);
	CHECK(strstr(tmpl, "XXXXXX") == NULL);
	write_str(fd, "mkstemp\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(tmpl, "mkstemp\n");
	EXPECT_FILE(member_path("secondary", tmpl), "mkstemp\n");
	CHECK_EQ(xstat(tmpl).st_mode & 0777, 0600);

	char tmpl2[] = SHADOW "/oXXXXXX.log";
	fd = CHECK_SYS(mkostemps(tmpl2, 4, O_APPEND | O_CLOEXEC));
	CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	write_str(fd, "mkostemps\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(tmpl2, "mkostemps\n");

	char dtmpl[] = SHADOW "/dXXXXXX";
	char *dir = CHECK_PTR(mkdtemp(dtmpl));
	CHECK(S_ISDIR(xstat(dir).st_mode));
	CHECK(S_ISDIR(xstat(member_path("secondary", dir)).st_mode));
	write_file(xasprintf("%s/inside", dir), "in tmp dir\n");

	/* The classic temp-then-rename pattern. */
	char t3[] = SHADOW "/.config.XXXXXX";
	fd = CHECK_SYS(mkstemp(t3));
	write_str(fd, "new config\n");
	CHECK_SYS(fsync(fd));
	CHECK_SYS(close(fd));
	CHECK_SYS(rename(t3, SHADOW "/config"));
	EXPECT_FILE(SHADOW "/config", "new config\n");
	return 0;
}
