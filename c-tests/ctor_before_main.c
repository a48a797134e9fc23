// ctor_before_main: hooked calls from another library's constructor, before main.
#include "check.h"

extern int ctor_writer_status;	/* lib/ctor_writer.c */

static int own_ctor_ran;

__attribute__((constructor(101)))
static void own_ctor(void)
{
	write_file(SHADOW "/ctor/main-exe", "exe ctor\n");
	own_ctor_ran = 1;
}

int main(void)
{
	CHECK_EQ(ctor_writer_status, 0);
	CHECK_EQ(own_ctor_ran, 1);
	EXPECT_FILE(SHADOW "/ctor/early", "written before main\n");
	EXPECT_FILE(SHADOW "/ctor/stdio", "stdio before main\n");
	EXPECT_FILE(SHADOW "/ctor/main-exe", "exe ctor\n");
	return 0;
}
