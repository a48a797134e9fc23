// ctor_writer: a library whose constructor uses hooked calls before main.
// Linked into ctor_before_main; built to build/libctor_writer.so.
#include "../check.h"

int ctor_writer_status = -1;	/* 0 once the constructor's checks all passed */

__attribute__((constructor(101)))
static void write_before_main(void)
{
	CHECK_SYS(mkdir(SHADOW "/ctor", 0755));
	int fd = CHECK_SYS(open(SHADOW "/ctor/early", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "written before main\n");
	CHECK_SYS(close(fd));

	FILE *f = CHECK_PTR(fopen(SHADOW "/ctor/stdio", "w"));
	CHECK(fputs("stdio before main\n", f) >= 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(SHADOW "/ctor/early", "written before main\n");
	ctor_writer_status = 0;
}
