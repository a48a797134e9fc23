// stdio_errno: closing streams that have no fd (open_memstream, fmemopen)
// leaves errno as it was, as natively: the shim's hooks ask glibc's fileno, which sets
// EBADF for such streams (before, fclose of a memory stream left EBADF, and a later
// perror printed "Bad file descriptor").
#include "check.h"

int main(void)
{
	char *buf;
	size_t len;
	FILE *m = CHECK_PTR(open_memstream(&buf, &len));
	fprintf(m, "in memory %d\n", 42);
	errno = 0;
	CHECK_SYS(fclose(m));
	CHECK_EQ(errno, 0);

	char fixed[64] = "fixed";
	m = CHECK_PTR(fmemopen(fixed, sizeof fixed, "r"));
	errno = 0;
	CHECK_SYS(fclose(m));
	CHECK_EQ(errno, 0);

	FILE *f = CHECK_PTR(fopen(SHADOW "/from-memory", "w"));
	CHECK_EQ(fwrite(buf, 1, len, f), len);
	errno = 0;
	CHECK_SYS(fclose(f));
	CHECK_EQ(errno, 0);
	free(buf);
	EXPECT_FILE(SHADOW "/from-memory", "in memory 42\n");
	return 0;
}
