// wordexp_shell: wordexp(3) runs a command substitution's shell with an internal
// posix_spawn no hook sees, in the program's environment as it is. The shell inherits the
// program's fds: its writes through a shadowed fd move the description's offset under the
// program's next write, and a shell started after the program removed the shim's
// variables ran without the shim, its writes reaching the primary alone, unreported
// (as system(3), c-tests/system_env_lost.c). Both are handled as for system(3).
#include "check.h"
#include <wordexp.h>

static void expand(const char *words, const char *want)
{
	wordexp_t we;
	CHECK_EQ(wordexp(words, &we, 0), 0);
	CHECK_EQ(we.we_wordc, (size_t)1);
	CHECK_STREQ(we.we_wordv[0], want);
	wordfree(&we);
}

int main(void)
{
	int fd = CHECK_SYS(open(SHADOW "/out", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	char words[128];

	write_str(fd, "program 1\n");
	snprintf(words, sizeof words, "$(echo from the shell >&%d; echo word)", fd);
	expand(words, "word");
	write_str(fd, "program 2\n");

	/* WRDE_NOCMD: no shell, an error, nothing written. */
	wordexp_t we;
	CHECK_EQ(wordexp(words, &we, WRDE_NOCMD), WRDE_CMDSUB);

	char *tmp = strdup(test_tmp());
	CHECK_SYS(unsetenv("LD_PRELOAD"));
	snprintf(words, sizeof words, "`echo without the variables >&%d; echo w2`", fd);
	expand(words, "w2");
	/* The program's own view of its environment is as it left it. */
	CHECK(getenv("LD_PRELOAD") == NULL);
	expand("${LD_PRELOAD-unset}", "unset");
	CHECK_SYS(clearenv());
	snprintf(words, sizeof words, "$(echo after clearenv >&%d)x", fd);
	expand(words, "x");
	CHECK(environ == NULL || environ[0] == NULL);
	CHECK_SYS(setenv("SHADOW_TEST_TMP", tmp, 1)); /* for the members' paths below */

	write_str(fd, "program 3\n");
	CHECK_SYS(close(fd));
	EXPECT_FILE(SHADOW "/out", "program 1\nfrom the shell\nprogram 2\nwithout the variables\nafter clearenv\nprogram 3\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/out");
	return 0;
}
